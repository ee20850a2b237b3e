package glimport

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/go-gl/gl/v3.2-compatibility/gl"
	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/headless"
)

// emptyMemory makes a real GL memory object whose import the driver refused
// without a GL error, the way Mesa handles an fd that is not its memory:
// /dev/null goes straight to glImportMemoryFdEXT, bypassing ImportMemory's
// checks. It stands in for memory the Texture error paths never reach.
func emptyMemory(t *testing.T, c *headless.Context) *Memory {
	t.Helper()
	null, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	m := &Memory{size: 1 << 16}
	c.Call(func() {
		if !hasExtensions("GL_EXT_memory_object_fd") {
			t.Skip("GL_EXT_memory_object_fd missing")
		}
		dup, err := unix.FcntlInt(null.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		gl.CreateMemoryObjectsEXT(1, &m.name)
		gl.ImportMemoryFdEXT(m.name, m.size, gl.HANDLE_TYPE_OPAQUE_FD_EXT, int32(dup))
		if e := gl.GetError(); e != gl.NO_ERROR {
			unix.Close(dup)
			t.Skipf("this GL reports importing /dev/null as error 0x%x; the silent-failure path does not arise", e)
		}
	})
	t.Cleanup(func() { c.Call(func() { m.Close() }) })
	return m
}

func newContext(t *testing.T) *headless.Context { return NewTestContext(t) }

// checkCallerState checks, on the GL thread, that binding (a
// glGetIntegerv name) still reports the caller's object mine after a
// failed call, and that the failure left no GL error pending.
func checkCallerState(t *testing.T, binding, mine uint32) {
	t.Helper()
	var bound int32
	gl.GetIntegerv(binding, &bound)
	if uint32(bound) != mine {
		t.Errorf("%d bound (binding 0x%04x) afterwards, want the caller's %d", bound, binding, mine)
	}
	if e := gl.GetError(); e != gl.NO_ERROR {
		t.Errorf("GL error 0x%x left pending", e)
	}
}

func desc2D(w, h uint32, f bridge.Format) bridge.Allocation {
	a := bridge.Allocation{
		Desc: bridge.Desc{Dimension: bridge.DimensionTexture2D, Width: w, Height: h, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, Format: f},
		Size: 1 << 16,
	}
	if fi, err := bridge.LookupFormat(f); err == nil {
		a.VkFormat = fi.VkFormat
	}
	return a
}

func TestTextureUnsupported(t *testing.T) {
	c := newContext(t)
	m := emptyMemory(t, c)
	unknown := desc2D(16, 16, bridge.Format(9999))
	wrongStorage := desc2D(16, 16, bridge.FormatR8G8B8A8Unorm)
	wrongStorage.VkFormat = 44 // VK_FORMAT_B8G8R8A8_UNORM: not a storage of R8G8B8A8
	bc3D := desc2D(16, 16, bridge.FormatBC1Unorm)
	bc3D.Desc.Dimension, bc3D.Desc.DepthOrArraySize = bridge.DimensionTexture3D, 4
	invalid := desc2D(16, 0, bridge.FormatR8G8B8A8Unorm)
	buf := desc2D(4096, 1, bridge.FormatUnknown)
	buf.Desc.Dimension = bridge.DimensionBuffer
	for _, tc := range []struct {
		name, want string
		a          bridge.Allocation
		sentinel   error
	}{
		{"unknown format", "DXGI format 9999", unknown, bridge.ErrUnsupportedFormat},
		{"VkFormat of another format", "VkFormat 44 is not one of its storages", wrongStorage, bridge.ErrUnsupportedFormat},
		{"3D BC1", "GL has no 3D textures in S3TC or RGTC formats", bc3D, bridge.ErrUnsupportedFormat},
		{"height 0", "Height = 0", invalid, bridge.ErrInvalidDesc},
		{"buffer", "use Memory.Buffer", buf, bridge.ErrUnsupportedFormat},
	} {
		// CheckTexture needs no context and says what Texture says.
		if err := CheckTexture(tc.a); !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckTexture: %s: err = %v, want %v naming %q", tc.name, err, tc.sentinel, tc.want)
		}
		var err error
		c.Call(func() { _, err = m.Texture(tc.a) })
		if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Texture: %s: err = %v, want %v naming %q", tc.name, err, tc.sentinel, tc.want)
		}
	}
}

// TestShapes: every kind of description becomes the GL target the
// documentation of bridge.GLTexture promises, and CheckTexture accepts it.
// bridge has no GL binding and writes its target numbers out, so this is
// also where they are tied to go-gl's constants; and each target gets its
// storage call.
func TestShapes(t *testing.T) {
	for _, tc := range []struct {
		dim     bridge.Dimension
		n, s    uint32
		target  uint32
		storage string
	}{
		{bridge.DimensionTexture1D, 1, 1, gl.TEXTURE_1D, "glTexStorageMem1DEXT"},
		{bridge.DimensionTexture1D, 4, 1, gl.TEXTURE_1D_ARRAY, "glTexStorageMem2DEXT"},
		{bridge.DimensionTexture2D, 1, 1, gl.TEXTURE_2D, "glTexStorageMem2DEXT"},
		{bridge.DimensionTexture2D, 4, 1, gl.TEXTURE_2D_ARRAY, "glTexStorageMem3DEXT"},
		{bridge.DimensionTexture2D, 1, 4, gl.TEXTURE_2D_MULTISAMPLE, "glTexStorageMem2DMultisampleEXT"},
		{bridge.DimensionTexture2D, 4, 4, gl.TEXTURE_2D_MULTISAMPLE_ARRAY, "glTexStorageMem3DMultisampleEXT"},
		{bridge.DimensionTexture3D, 4, 1, gl.TEXTURE_3D, "glTexStorageMem3DEXT"},
		{bridge.DimensionTextureCube, 1, 1, gl.TEXTURE_CUBE_MAP, "glTexStorageMem2DEXT"},
		{bridge.DimensionTextureCube, 2, 1, gl.TEXTURE_CUBE_MAP_ARRAY, "glTexStorageMem3DEXT"},
	} {
		a := desc2D(16, 16, bridge.FormatR8G8B8A8Unorm)
		a.Desc.Dimension, a.Desc.DepthOrArraySize, a.Desc.SampleCount = tc.dim, tc.n, tc.s
		if tc.dim == bridge.DimensionTexture1D {
			a.Desc.Height = 1
		}
		if tc.dim == bridge.DimensionTextureCube {
			a.Desc.MiscFlags = 0x4 // D3D11_RESOURCE_MISC_TEXTURECUBE
		}
		if err := CheckTexture(a); err != nil {
			t.Errorf("CheckTexture(%s): %v", a.Desc, err)
			continue
		}
		tex, shape, err := checkTexture(a)
		if err != nil {
			t.Errorf("%s: %v", a.Desc, err)
			continue
		}
		if tex.Target != tc.target || !strings.HasPrefix(shape.call, tc.storage) || shape.multisample != (tc.s > 1) {
			t.Errorf("%s: target 0x%04x via %s (multisample %v), want 0x%04x via %s", a.Desc, tex.Target, shape.call, shape.multisample, tc.target, tc.storage)
		}
	}
}

// TestGLTextureEnums ties the GL numbers in a bridge.GLTexture to go-gl's:
// the internal format, format and type come from the format table (whose
// own test checks them against the headers) and must reach GL unchanged.
func TestGLTextureEnums(t *testing.T) {
	a := desc2D(16, 16, bridge.FormatB8G8R8A8Unorm)
	tex, err := a.GLTexture()
	if err != nil {
		t.Fatal(err)
	}
	bgra := [4]bridge.Swizzle{bridge.SwizzleB, bridge.SwizzleG, bridge.SwizzleR, bridge.SwizzleA}
	if tex.Target != gl.TEXTURE_2D || tex.InternalFormat != gl.RGBA8 || tex.Format != gl.RGBA || tex.Type != gl.UNSIGNED_BYTE || tex.Swizzle != bgra {
		t.Errorf("B8G8R8A8_UNORM: %+v, want GL_TEXTURE_2D, GL_RGBA8, GL_RGBA, GL_UNSIGNED_BYTE swizzled BGRA", tex)
	}
	if _, err := shapeOf(bridge.GLTexture{Target: gl.TEXTURE_BUFFER}); !errors.Is(err, bridge.ErrUnsupportedFormat) {
		t.Errorf("shapeOf(GL_TEXTURE_BUFFER): %v, want ErrUnsupportedFormat", err)
	}
}

// TestBufferOnEmptyMemory: a buffer over memory whose import failed is an
// error, the caller's GL_COPY_WRITE_BUFFER binding survives, and no GL
// error is left pending.
func TestBufferOnEmptyMemory(t *testing.T) {
	c := newContext(t)
	m := emptyMemory(t, c)
	a := desc2D(4096, 1, bridge.FormatUnknown)
	a.Desc.Dimension = bridge.DimensionBuffer
	c.Call(func() {
		var mine uint32
		gl.GenBuffers(1, &mine)
		defer gl.DeleteBuffers(1, &mine)
		gl.BindBuffer(gl.COPY_WRITE_BUFFER, mine)
		defer gl.BindBuffer(gl.COPY_WRITE_BUFFER, 0)
		b, err := m.Buffer(a)
		if err == nil {
			b.Close()
			t.Fatal("Buffer on memory that holds nothing succeeded")
		}
		t.Log(err)
		if !strings.Contains(err.Error(), "glBufferStorageMemEXT") {
			t.Errorf("err = %v does not name glBufferStorageMemEXT", err)
		}
		checkCallerState(t, gl.COPY_WRITE_BUFFER, mine)
		if _, err := m.Buffer(desc2D(16, 16, bridge.FormatR8G8B8A8Unorm)); !errors.Is(err, bridge.ErrUnsupportedFormat) || !strings.Contains(err.Error(), "use Memory.Texture") {
			t.Errorf("Buffer with a texture description: %v", err)
		}
		big := a
		big.Desc.Width = 1<<16 + 1
		if _, err := m.Buffer(big); err == nil || !strings.Contains(err.Error(), "do not fit") {
			t.Errorf("a buffer larger than the memory: %v", err)
		}
	})
}

// TestTextureDetectsSilentImportFailure checks that storage which the driver
// silently did not make is reported, and that the texture binding and GL
// error state are left clean.
func TestTextureDetectsSilentImportFailure(t *testing.T) {
	c := newContext(t)
	m := emptyMemory(t, c)
	c.Call(func() {
		var mine uint32
		gl.GenTextures(1, &mine)
		defer gl.DeleteTextures(1, &mine)
		gl.BindTexture(gl.TEXTURE_2D, mine)
		tex, err := m.Texture(desc2D(16, 16, bridge.FormatB8G8R8A8Unorm))
		if err == nil {
			tex.Close()
			t.Fatal("Texture on memory that holds nothing succeeded")
		}
		if !strings.Contains(err.Error(), "glTexStorageMem2DEXT: no storage was made") {
			t.Errorf("err = %v", err)
		}
		checkCallerState(t, gl.TEXTURE_BINDING_2D, mine)
	})
}

func TestTextureOnClosedMemory(t *testing.T) {
	c := newContext(t)
	m := emptyMemory(t, c)
	c.Call(func() {
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if err := m.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if _, err := m.Texture(desc2D(16, 16, bridge.FormatR8G8B8A8Unorm)); !errors.Is(err, bridge.ErrClosed) {
			t.Errorf("Texture: err = %v, want ErrClosed", err)
		}
		buf := desc2D(16, 1, bridge.FormatUnknown)
		buf.Desc.Dimension = bridge.DimensionBuffer
		if _, err := m.Buffer(buf); !errors.Is(err, bridge.ErrClosed) {
			t.Errorf("Buffer: err = %v, want ErrClosed", err)
		}
	})
}

// TestCStringIs: the extension check compares GL's strings in place,
// whole, and never past their NUL.
func TestCStringIs(t *testing.T) {
	b := []byte("GL_EXT_memory_object_fd\x00GL_EXT_memory_object\x00")
	for _, tc := range []struct {
		at   int
		s    string
		want bool
	}{
		{0, "GL_EXT_memory_object_fd", true},
		{0, "GL_EXT_memory_object", false},
		{24, "GL_EXT_memory_object", true},
		{24, "GL_EXT_memory_object_fd", false},
		{24, "", false},
	} {
		if got := cStringIs(&b[tc.at], tc.s); got != tc.want {
			t.Errorf("cStringIs(%q, %q) = %v", b[tc.at:], tc.s, got)
		}
	}
	if cStringIs(nil, "x") {
		t.Error("cStringIs(nil) = true")
	}
}
