// Package deploy holds no code: its tests check the deployment files (Dockerfile, app.json,
// render.yaml, railway.json, docker-compose.yml, the Kubernetes manifests) against the service's
// configuration, and that the binary the Dockerfile builds is static and runs in an empty root.
// It is a module of its own so that the Kubernetes API types stay out of the service's go.mod.
package deploy
