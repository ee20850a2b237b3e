package share_test

import (
	"testing"

	"github.com/go-gl/gl/v3.2-compatibility/gl"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/headless"
	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/share"
	"github.com/glbridge/glbridge/testpattern"
)

// TestGLContextSurvivesClose: closing a GL on the renderer's thread leaves
// the renderer's context current and working there, in every mode: the
// thread still sees its extensions, and a GL made after it shares again,
// drawing and reading back every texel. The context is a plain one, with
// no GL of glbridge's alive beside the one closed, so that closing it
// destroys the process's last Vulkan device: NVIDIA 580 then leaves the
// thread without its current GL context (every GL call does nothing), so
// helperdev destroys its devices on a thread of their own.
func TestGLContextSurvivesClose(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			opts := withService(t, m.gl)
			ctx, err := headless.New(headless.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer ctx.Close()
			const w, h = 32, 16
			ctx.Call(func() {
				for round := range 2 {
					var g *share.GL
					if g, err = share.NewGL(ctx.ProcAddr, opts); err != nil {
						return
					}
					g.Close()
					var n int32
					gl.GetIntegerv(gl.NUM_EXTENSIONS, &n)
					if n == 0 {
						t.Errorf("round %d: after GL.Close the thread's context reports no extensions: it is no longer current", round)
						return
					}
				}
				var g *share.GL
				if g, err = share.NewGL(ctx.ProcAddr, opts); err != nil {
					return
				}
				defer g.Close()
				var r *share.GLResource
				if r, err = g.Create(bridge.Texture2D(w, h, bridge.FormatR8G8B8A8Unorm)); err != nil {
					return
				}
				defer r.Close()
				err = r.Access(bridge.AccessReadWrite, func() error {
					name, target := r.Texture()
					if err := testpattern.Draw(name, target, w, h, 3); err != nil {
						return err
					}
					px, err := glutil.ReadRGBA8(name, target, 0, w, h)
					if err != nil {
						return err
					}
					want := testpattern.Expected(w, h, 3)
					for i := range want {
						if !near(px[i], want[i]) {
							t.Errorf("after GL.Close, a new resource reads %d at byte %d, want %d", px[i], i, want[i])
							break
						}
					}
					return nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
