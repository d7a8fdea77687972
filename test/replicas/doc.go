// Package replicas holds the multi-replica suite: several real zoomtoken processes on one
// PostgreSQL database and one emulated Zoom, proving that refresh races are harmless, that a
// replica killed mid-refresh or a database outage loses nothing that can be kept, and that a
// database dump holds no token. It has no code of its own; make test runs it when PostgreSQL
// answers at DATABASE_URL_TEST, and CI requires it.
package replicas
