// Package manager tests the connections domain's Manager as the service runs it: on a real
// SQLite store, against the Zoom emulator over HTTP, with the user-level Zoom client between
// them. It lives apart from internal/connections so the domain's package tree imports no
// storage and no Zoom code, not even in its tests. It has no code of its own.
package manager
