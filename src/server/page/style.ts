/** The page's stylesheet, served as /assets/page.css. Colours pass WCAG AA contrast; the state word always shows. */
export const PAGE_CSS = `
:root { color-scheme: light; font-family: system-ui, sans-serif; color: #1b1f24; background: #ffffff; }
body { margin: 0 auto; max-width: 80rem; padding: 1rem; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: #ffffff; padding: .5rem; outline: 3px solid #0550ae; }
header { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; }
h1 { font-size: 1.5rem; margin: 0; }
#updated { color: #424a53; margin: 0; }
a { color: #0550ae; }
a:focus, button:focus, select:focus { outline: 3px solid #0550ae; outline-offset: 2px; }
.filters { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1rem 0; align-items: end; }
table { border-collapse: collapse; width: 100%; }
caption { text-align: left; font-weight: 600; padding: .5rem 0; }
th, td { border: 1px solid #d0d7de; padding: .4rem .6rem; text-align: left; vertical-align: top; }
th[scope="row"] { white-space: nowrap; font-weight: normal; }
.cell .word { font-weight: 600; display: block; }
.detail, time { display: block; font-size: .85rem; color: #424a53; }
.succeeded { background: #dafbe1; }
.failed { background: #ffebe9; }
.progressing, .pending { background: #fff8c5; }
.superseded { background: #eaeef2; }
.none { color: #57606a; }
.dead-count { color: #a40e26; font-weight: 600; }
.error { color: #a40e26; }
.command { background: #f6f8fa; padding: 0 .3rem; }
.chains, .dead { padding-left: 1.2rem; }
.step.blocked { color: #a40e26; }
`;
