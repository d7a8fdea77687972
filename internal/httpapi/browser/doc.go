// Package browser holds no code: its test drives a real headless Chromium against POST / from a
// page on another origin, the way front-end developers call the service. It is a module of its
// own so that the browser driver stays out of the service's go.mod.
package browser
