// Package browsertest drives the web console in a real headless Chromium
// (github.com/chromedp/chromedp) against a running `gatehouse server
// --dev`, and checks the pages' accessibility basics in the browser
// (a11y.js). Its tests skip when Chromium is missing, unless
// GATEHOUSE_REQUIRE_BROWSER=1 (set by .ci/run), which makes them fail.
//
// Screenshots of every page, at 1280 px and at a 375 px phone width, are
// written to the directory GATEHOUSE_SCREENSHOTS names (a temporary
// directory by default); they are test artefacts, never committed.
package browsertest
