package glutil

import (
	"fmt"
	"unsafe"

	"github.com/go-gl/gl/v3.2-compatibility/gl"
)

// PixelBuffer is a GL buffer object that texture transfers go through
// instead of client memory (GL_PIXEL_PACK_BUFFER / GL_PIXEL_UNPACK_BUFFER):
// GL copies texels into or out of it without stalling on the CPU's memory,
// and the CPU touches the bytes once, through a mapping. glGetTexImage into
// client memory is many times slower on NVIDIA. Like every GL object it
// belongs to the current context; its methods run on the context's thread.
type PixelBuffer struct {
	name uint32
	size int
}

// NewPixelBuffer makes a pixel buffer of size bytes.
func NewPixelBuffer(size int) (*PixelBuffer, error) {
	if size <= 0 {
		return nil, fmt.Errorf("glutil: NewPixelBuffer(%d)", size)
	}
	DrainErrors()
	var prev int32
	gl.GetIntegerv(gl.PIXEL_PACK_BUFFER_BINDING, &prev)
	defer gl.BindBuffer(gl.PIXEL_PACK_BUFFER, uint32(prev))
	pb := &PixelBuffer{size: size}
	gl.GenBuffers(1, &pb.name)
	gl.BindBuffer(gl.PIXEL_PACK_BUFFER, pb.name)
	gl.BufferData(gl.PIXEL_PACK_BUFFER, size, nil, gl.STREAM_COPY)
	if err := CheckError("glBufferData(GL_PIXEL_PACK_BUFFER)"); err != nil {
		gl.DeleteBuffers(1, &pb.name)
		return nil, prefixed(err)
	}
	return pb, nil
}

// Size returns the buffer's size in bytes.
func (pb *PixelBuffer) Size() int { return pb.size }

// Read maps bytes [off, off+n) for reading, after GL has finished writing
// them, and passes them to f; the slice is invalid once f returns.
func (pb *PixelBuffer) Read(off, n int, f func([]byte) error) error {
	if off < 0 || n <= 0 || off+n > pb.size {
		return fmt.Errorf("glutil: PixelBuffer.Read [%d, %d) of %d bytes", off, off+n, pb.size)
	}
	DrainErrors()
	var prev int32
	gl.GetIntegerv(gl.PIXEL_PACK_BUFFER_BINDING, &prev)
	defer gl.BindBuffer(gl.PIXEL_PACK_BUFFER, uint32(prev))
	gl.BindBuffer(gl.PIXEL_PACK_BUFFER, pb.name)
	p := gl.MapBufferRange(gl.PIXEL_PACK_BUFFER, off, n, gl.MAP_READ_BIT)
	if p == nil {
		return prefixed(fmt.Errorf("glMapBufferRange: %v", CheckError("glMapBufferRange")))
	}
	err := f(unsafe.Slice((*byte)(p), n))
	if !gl.UnmapBuffer(gl.PIXEL_PACK_BUFFER) && err == nil {
		err = fmt.Errorf("glutil: glUnmapBuffer: the buffer's contents were lost")
	}
	return err
}

// Write stores data at byte offset off.
func (pb *PixelBuffer) Write(off int, data []byte) error {
	if off < 0 || len(data) == 0 || off+len(data) > pb.size {
		return fmt.Errorf("glutil: PixelBuffer.Write [%d, %d) of %d bytes", off, off+len(data), pb.size)
	}
	DrainErrors()
	var prev int32
	gl.GetIntegerv(gl.PIXEL_UNPACK_BUFFER_BINDING, &prev)
	defer gl.BindBuffer(gl.PIXEL_UNPACK_BUFFER, uint32(prev))
	gl.BindBuffer(gl.PIXEL_UNPACK_BUFFER, pb.name)
	gl.BufferSubData(gl.PIXEL_UNPACK_BUFFER, off, len(data), gl.Ptr(data))
	return prefixed(CheckError("glBufferSubData(GL_PIXEL_UNPACK_BUFFER)"))
}

// Close deletes the buffer; it is idempotent.
func (pb *PixelBuffer) Close() {
	if pb.name != 0 {
		gl.DeleteBuffers(1, &pb.name)
		pb.name = 0
	}
}

// pixels is where a transfer's texels are: client memory, or a range of a
// pixel buffer.
type pixels struct {
	client []byte
	pb     *PixelBuffer
	off, n int
}

// check refuses a pixel-buffer range the transfer would overrun.
func (p pixels) check() error {
	if p.pb != nil && (p.off < 0 || p.off+p.n > p.pb.size) {
		return fmt.Errorf("glutil: %d bytes at offset %d overrun a pixel buffer of %d", p.n, p.off, p.pb.size)
	}
	return nil
}

// bind binds the pixel buffer as the pack (or unpack) buffer for the
// transfer, after tightPixelStore unbound any; it returns the unbinding.
func (p pixels) bind(pack bool) func() {
	if p.pb == nil {
		return func() {}
	}
	target := uint32(gl.PIXEL_UNPACK_BUFFER)
	if pack {
		target = gl.PIXEL_PACK_BUFFER
	}
	gl.BindBuffer(target, p.pb.name)
	return func() { gl.BindBuffer(target, 0) }
}

// ptr is the data argument of the GL call: client memory, or an offset
// into the bound buffer.
func (p pixels) ptr() unsafe.Pointer {
	if p.pb != nil {
		return BufferOffset(p.off)
	}
	return gl.Ptr(p.client)
}

// BufferOffset is the pointer argument that names byte off of the buffer
// bound to a GL call's target (a pixel or vertex buffer) rather than
// client memory. go-gl deprecates its PtrOffset for this in favour of
// per-function offset overloads, which it has only for draw and vertex
// calls, not for glTexSubImage, glReadPixels or glGetTexImage: the pointer
// is formed here, once, as GL wants it, a small integer that is never
// dereferenced on the Go side.
func BufferOffset(off int) unsafe.Pointer { return unsafe.Add(unsafe.Pointer(nil), off) }
