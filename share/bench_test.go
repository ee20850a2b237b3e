package share_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-gl/gl/v3.2-compatibility/gl"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/share"
	"github.com/glbridge/glbridge/vkalloc"
)

// BenchmarkCopyFrame measures one GL frame on the copy path, a clear of
// the whole texture to a colour of its own (so every frame stores), in
// Vulkan memory (ForceCopy) and in host memory (no Vulkan), at 256² and
// 512², four ways:
//
//   - plain: the same clear and GL's read-back into a pixel buffer, then
//     stored into the memory (vkalloc's WritePixels into a Vulkan image,
//     or a copy into host memory) without glbridge: the copy a renderer
//     that knows it overwrites everything would write itself;
//   - no-hint: share's BeginAccess/EndAccess, which fills GL's texture
//     from the shared memory first;
//   - write-discard: BeginAccessWith(AccessReadWrite, WriteDiscard);
//   - deferred: WriteDiscard|DeferWriteBack, each frame's store
//     happening as the next frame ends.
//
// Each iteration runs one frame of each, in turn, so that the load of a
// busy machine falls on all four alike; the metrics are each one's time
// per frame (µs) and its ratio to plain's (the target:
// write-discard ≤ 1.2 at 512²), with what write-discard moved per frame
// (filled-B, stored-B). ns/op is the four frames together.
func BenchmarkCopyFrame(b *testing.B) {
	backings := []struct {
		name string
		opts share.Options
	}{
		{"vulkan", share.Options{ForceCopy: true}},
		{"host", share.WithNoVulkan(share.Options{})},
	}
	for _, bk := range backings {
		e := testGL(b, bk.opts)
		for _, size := range []int{256, 512} {
			b.Run(fmt.Sprintf("%s/%d", bk.name, size), func(b *testing.B) {
				benchCopyFrame(b, e, desc2D(size, size, bridge.FormatR8G8B8A8Unorm), bk.name == "vulkan")
			})
		}
	}
}

// benchCopyFrame is one memory and size of BenchmarkCopyFrame.
func benchCopyFrame(b *testing.B, e *glEnv, desc bridge.Desc, toVulkan bool) {
	plain, done, err := newPlainCopy(e, desc, toVulkan)
	if err != nil {
		b.Fatal(err)
	}
	defer done()
	ways := []struct {
		name  string
		hint  share.AccessHint
		frame func(int) error
		r     *share.GLResource
		took  time.Duration
	}{
		{name: "plain", frame: plain},
		{name: "no-hint"},
		{name: "write-discard", hint: share.WriteDiscard},
		{name: "deferred", hint: share.WriteDiscard | share.DeferWriteBack},
	}
	for i := range ways[1:] {
		w := &ways[1+i]
		e.ctx.Call(func() { w.r, err = e.g.Create(desc) })
		if err != nil {
			b.Fatal(err)
		}
		defer e.ctx.Call(func() { w.r.Close() })
		if !w.r.Path().Copies() {
			b.Fatalf("path %v", w.r.Path())
		}
		w.frame = func(n int) error {
			if err := w.r.BeginAccessWith(bridge.AccessReadWrite, w.hint); err != nil {
				return err
			}
			name, target := w.r.Texture()
			c := frameColour(n)
			if err := glutil.ClearTexture(name, target, 0, c[0], c[1], c[2], c[3]); err != nil {
				return err
			}
			return w.r.EndAccess()
		}
	}
	var moved share.Moved
	e.ctx.Call(func() {
		for n := range 3 {
			for _, w := range ways {
				if err = w.frame(n); err != nil {
					return
				}
			}
		}
		before := share.MovedBy(ways[2].r)
		b.ResetTimer()
		for n := 0; n < b.N && err == nil; n++ {
			for i := range ways {
				t0 := time.Now()
				if err = ways[i].frame(n); err != nil {
					break
				}
				ways[i].took += time.Since(t0)
			}
		}
		b.StopTimer()
		moved = share.MovedBy(ways[2].r).Sub(before)
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, w := range ways {
		b.ReportMetric(float64(w.took.Microseconds())/float64(b.N), w.name+"-µs")
		if w.name != "plain" {
			b.ReportMetric(float64(w.took)/float64(ways[0].took), w.name+"/plain")
		}
	}
	b.ReportMetric(float64(moved.Filled)/float64(b.N), "filled-B")
	b.ReportMetric(float64(moved.Stored)/float64(b.N), "stored-B")
}

// frameColour is frame i's clear colour: every frame differs from the
// one before in every texel.
func frameColour(i int) [4]float32 {
	return [4]float32{float32(i%2) * 0.5, float32(i%3) / 2, 1, 1}
}

// newPlainCopy makes the copy without glbridge: GL's own texture, a
// frame of which is cleared, read back into a pixel buffer, and the
// mapping stored into a Vulkan image (toVulkan) or host memory. frame
// runs on the GL thread; done releases it all.
func newPlainCopy(e *glEnv, desc bridge.Desc, toVulkan bool) (frame func(int) error, done func(), err error) {
	l, err := bridge.LayoutOf(desc)
	if err != nil {
		return nil, nil, err
	}
	var closers []func()
	done = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	var store func([]byte) error
	if toVulkan {
		var dev *helperdev.Device
		e.ctx.Call(func() { dev, err = helperdev.Open(helperdev.Config{Device: e.g.Identity().Device, Peer: "GL"}) })
		if err != nil {
			return nil, nil, err
		}
		closers = append(closers, func() { dev.Close() })
		img, err := vkalloc.NewImage(dev, desc)
		if err != nil {
			done()
			return nil, nil, err
		}
		closers = append(closers, func() { img.Close() })
		store = func(px []byte) error { return img.WritePixels(bridge.Subresource{}, px, vkalloc.Sync{}) }
	} else {
		host := make([]byte, l.Size)
		store = func(px []byte) error { copy(host, px); return nil }
	}
	var tex uint32
	var pb *glutil.PixelBuffer
	e.ctx.Call(func() {
		gl.GenTextures(1, &tex)
		gl.BindTexture(gl.TEXTURE_2D, tex)
		gl.TexStorage2D(gl.TEXTURE_2D, 1, gl.RGBA8, int32(desc.Width), int32(desc.Height))
		gl.BindTexture(gl.TEXTURE_2D, 0)
		pb, err = glutil.NewPixelBuffer(int(l.Size))
	})
	closers = append(closers, func() {
		e.ctx.Call(func() {
			gl.DeleteTextures(1, &tex)
			if pb != nil {
				pb.Close()
			}
		})
	})
	if err != nil {
		done()
		return nil, nil, err
	}
	frame = func(n int) error {
		c := frameColour(n)
		if err := glutil.ClearTexture(tex, gl.TEXTURE_2D, 0, c[0], c[1], c[2], c[3]); err != nil {
			return err
		}
		if _, err := glutil.GetTexImageTo(pb, 0, tex, gl.TEXTURE_2D, 0, 0, gl.RGBA, gl.UNSIGNED_BYTE, 4); err != nil {
			return err
		}
		return pb.Read(0, int(l.Size), store)
	}
	return frame, done, nil
}
