//! What the hook benches share: the thread that drives the engine and the request a
//! bench hook receives.

use outpost_scripting::HookRequest;

/// A current-thread runtime with timers (the engine's queue wait is a timer).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A GET with a path, a query and one header.
pub fn request() -> HookRequest {
    HookRequest::new(
        http::Request::builder()
            .uri("https://example.com/a/b?c=d")
            .header("user-agent", "bench")
            .body(bytes::Bytes::new())
            .expect("request"),
    )
}
