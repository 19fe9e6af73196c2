use super::RegisterOperand;
use crate::{
    Context, JsObject, JsResult, JsValue,
    builtins::{Promise, generator::GeneratorContext, promise::PromiseCapability},
    error::PanicError,
    vm::{CompletionRecord, opcode::Operation},
};
use std::ops::ControlFlow;

/// `Await` implements the Opcode Operation for `Opcode::Await`
///
/// Operation:
///  - Stops the current Async function and schedules it to resume later.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Await;

impl Await {
    #[inline(always)]
    pub(super) fn operation(
        value: RegisterOperand,
        context: &mut Context,
    ) -> ControlFlow<CompletionRecord> {
        let value = context.vm.get_register(value.into());

        // 2. Let promise be ? PromiseResolve(%Promise%, value).
        let promise = match Promise::promise_resolve(
            &context.intrinsics().constructors().promise().constructor(),
            value.clone(),
            context,
        ) {
            Ok(promise) => match promise.downcast::<Promise>().ok() {
                Some(v) => v,
                None => {
                    return context.handle_error(
                        PanicError::new("%Promise% constructor must return a `Promise` object")
                            .into(),
                    );
                }
            },
            Err(err) => return context.handle_error(err),
        };

        let return_value = context
            .vm
            .get_promise_capability()
            .ok()
            .map(|cap| JsValue::from(cap.promise))
            .unwrap_or_default();

        let r#gen = GeneratorContext::from_current(context, None);

        // 3.-7. Perform PerformPromiseThen(promise, onFulfilled, onRejected), whose
        // closures resume this context with the value or throw it here. Outpost patch:
        // the reactions resume the context themselves (no function objects).
        Promise::perform_await(&promise, r#gen, context);

        context.vm.set_return_value(return_value);
        context.handle_yield()
    }
}

impl Operation for Await {
    const NAME: &'static str = "Await";
    const INSTRUCTION: &'static str = "INST - Await";
    const COST: u8 = 5;
}

/// `CreatePromiseCapability` implements the Opcode Operation for `Opcode::CreatePromiseCapability`
///
/// Operation:
///  - Create a promise capacity for an async function.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CreatePromiseCapability;

impl CreatePromiseCapability {
    #[inline(always)]
    pub(super) fn operation((): (), context: &mut Context) -> JsResult<()> {
        // Outpost patch: NewPromiseCapability(%Promise%) without its resolving
        // functions. The body settles its promise through the realm's async settlers
        // (it passes the promise as `this`: see the bytecompiler's `AsyncBlockStart`),
        // so each call makes one object instead of five (the promise, two functions
        // and their captures), which the collector traced and dropped again.
        let promise = JsObject::from_proto_and_data_with_shared_shape(
            context.root_shape(),
            context.intrinsics().constructors().promise().prototype(),
            Promise::new(),
        );
        let functions = crate::builtins::promise::async_settlers(context);
        context.vm.set_promise_capability(PromiseCapability {
            promise: promise.upcast(),
            functions,
        })
    }
}

impl Operation for CreatePromiseCapability {
    const NAME: &'static str = "CreatePromiseCapability";
    const INSTRUCTION: &'static str = "INST - CreatePromiseCapability";
    const COST: u8 = 8;
}
