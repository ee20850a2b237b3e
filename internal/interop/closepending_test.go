package interop_test

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/internal/testenv"
	"github.com/glbridge/glbridge/internal/testenv/testbroker"
	"github.com/glbridge/glbridge/testpattern"
)

// svcClosePending draws into a texture over memory the broker allocated
// and closes everything, the context last (with GLB_LEAVE, only the
// context), without waiting for GL to finish the drawing, then says
// CLOSED: a renderer that exits with GL work in flight.
func svcClosePending(*bufio.Scanner) error {
	g, err := startGLSide()
	if err != nil || g == nil {
		return err
	}
	defer g.c.Close()
	d := bridge.Texture2D(64, 64, bridge.FormatR8G8B8A8Unorm)
	r, err := g.c.Allocate(broker.AllocateRequest{Desc: d, Device: g.id.Device})
	if err != nil {
		g.ctx.Close()
		return err
	}
	defer closeResourceFDs(&r)
	g.ctx.Call(func() {
		var o glObjects
		if o, err = importGL(r, "none"); err != nil {
			return
		}
		err = testpattern.Draw(o.tex.Name(), o.tex.Target(), 64, 64, 1)
		if os.Getenv("GLB_LEAVE") == "" {
			o.close()
		}
	})
	if err != nil {
		g.ctx.Close()
		return err
	}
	if err := g.ctx.Close(); err != nil {
		return err
	}
	fmt.Println("CLOSED")
	return nil
}

// TestContextCloseWithDrawingPending: deleting imported memory, or
// closing a headless context that still has it, while drawing into it is
// in flight neither crashes nor fails. Mesa 22.3's llvmpipe died of
// SIGSEGV in both until glimport's Memory.Close and headless's Close
// finished GL first.
func TestContextCloseWithDrawingPending(t *testing.T) {
	sock := testbroker.Start(t)
	for _, leave := range []string{"", "1", "", "1"} {
		c := testenv.StartChild(t, "svc-close-pending", "GLB_SOCK="+sock, "GLB_LEAVE="+leave)
		if why, ok := strings.CutPrefix(c.Expect(t, "IDENT", childStart), "skip "); ok {
			t.Skip(why)
		}
		c.Expect(t, "CLOSED", childStart)
		c.Wait(t, childStart)
	}
}
