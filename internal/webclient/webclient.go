// Package webclient serves Chateau's single-page chat client: plain HTML,
// CSS and JavaScript embedded in the binary, no build step and nothing
// fetched from elsewhere.
package webclient

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves the client's files, index.html at /.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic("webclient: " + err.Error()) // the embedded tree is fixed at build time
	}
	return http.FileServer(http.FS(sub))
}
