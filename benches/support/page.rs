//! The ~60 KiB HTML page the benchmarks share: the docs-page test fixture with its
//! `<main>` section repeated (185 links, realistic markup, but repetitive, so it
//! compresses better than a typical page).

const FIXTURE: &str = include_str!("../../tests/fixtures/docs-page.html");

/// The fixture with its `<main>` content repeated to about 60 KiB.
pub fn page() -> String {
    let start = FIXTURE.find("<main>").expect("main") + "<main>".len();
    let end = FIXTURE.find("</main>").expect("/main");
    let main = &FIXTURE[start..end];
    let mut body = String::new();
    while FIXTURE.len() + body.len() < 60 << 10 {
        body.push_str(main);
    }
    format!("{}{}{}", &FIXTURE[..start], body, &FIXTURE[end..])
}
