// Package layering has no code: its tests hold glbridge's package
// structure in place. They read the module's import graph (go list) and
// fail, naming the import, when a package imports one of its own or a
// higher layer (the table in docs/design.md's Layers section), when a
// package outside cmd/ imports cmd/, when a sample imports an internal
// package, or when test support is imported outside tests and cmd/. A
// second test type-checks every public package from its export data and
// fails when an exported API mentions a type of an internal package or a
// C type. They exist so that a restructuring that breaks these rules
// fails go test ./... rather than a review.
package layering
