module github.com/glbridge/glbridge

go 1.26.0

require (
	github.com/go-gl/gl v0.0.0-20231021071112-07e5d0ea2e71
	golang.org/x/sys v0.50.0
)
