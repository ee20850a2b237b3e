package glimport

import (
	"fmt"

	"github.com/go-gl/gl/v3.2-compatibility/gl"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/glutil"
)

// Buffer is a GL buffer object whose storage is (part of) a Memory.
//
// Its storage is immutable. glBufferStorageMemEXT takes no storage flags,
// so which client-side updates GL allows is the driver's choice: Mesa 22.3
// reports GL_DYNAMIC_STORAGE_BIT and accepts glBufferSubData, other
// drivers raise GL_INVALID_OPERATION, and none maps it
// (glMapBufferRange fails). Portable code writes it on the GPU
// (glCopyBufferSubData, glClearBufferSubData, transform feedback, shader
// stores) and reads it with glGetBufferSubData or copies.
type Buffer struct {
	name   uint32
	size   uint64
	closed bool
}

// Buffer creates a buffer object viewing the memory as the buffer a
// describes: a.Desc.Dimension must be DimensionBuffer, and the buffer is
// a.Desc.Width bytes at a.Offset. It must run on the context's thread with
// the context current; several buffers (and textures) may view one Memory.
//
// The storage is made through GL_COPY_WRITE_BUFFER, a target a renderer
// seldom keeps anything bound to, and that binding is put back as it was;
// no other binding changes. The caller owns the Buffer and must Close it
// before the Memory.
func (m *Memory) Buffer(a bridge.Allocation) (*Buffer, error) {
	mustBeLoaded()
	if m.closed {
		return nil, fmt.Errorf("glimport: Buffer on memory object %d: %w", m.name, bridge.ErrClosed)
	}
	if a.Desc.Dimension != bridge.DimensionBuffer {
		return nil, fmt.Errorf("glimport: Buffer: %w: a %s is not a buffer: use Memory.Texture", bridge.ErrUnsupportedFormat, a.Desc.Dimension)
	}
	if err := a.Desc.Validate(); err != nil {
		return nil, fmt.Errorf("glimport: Buffer: %w", err)
	}
	size := uint64(a.Desc.Width)
	if a.Offset+size > m.size || a.Offset+size < size {
		return nil, fmt.Errorf("glimport: Buffer: %d bytes at offset %d do not fit memory object %d of %d bytes", size, a.Offset, m.name, m.size)
	}

	glutil.DrainErrors()
	var prev int32
	gl.GetIntegerv(gl.COPY_WRITE_BUFFER, &prev)
	defer gl.BindBuffer(gl.COPY_WRITE_BUFFER, uint32(prev))

	b := &Buffer{size: size}
	gl.GenBuffers(1, &b.name)
	gl.BindBuffer(gl.COPY_WRITE_BUFFER, b.name)
	fail := func(err error) (*Buffer, error) {
		gl.DeleteBuffers(1, &b.name)
		glutil.DrainErrors()
		return nil, err
	}
	if err := glErr("glBindBuffer(GL_COPY_WRITE_BUFFER)"); err != nil {
		return fail(err)
	}
	gl.BufferStorageMemEXT(gl.COPY_WRITE_BUFFER, int(size), m.name, a.Offset)
	if err := glErr("glBufferStorageMemEXT"); err != nil {
		return fail(fmt.Errorf("%w (%d bytes at offset %d, memory size %d)", err, size, a.Offset, m.size))
	}
	// As with textures, memory whose import failed silently must not
	// pass for a buffer: immutable storage of the right size proves the
	// storage was made.
	var immutable int32
	var got int64
	gl.GetBufferParameteriv(gl.COPY_WRITE_BUFFER, gl.BUFFER_IMMUTABLE_STORAGE, &immutable)
	gl.GetBufferParameteri64v(gl.COPY_WRITE_BUFFER, gl.BUFFER_SIZE, &got)
	if err := glErr("glGetBufferParameteriv(GL_BUFFER_IMMUTABLE_STORAGE, GL_BUFFER_SIZE)"); err != nil {
		return fail(err)
	}
	if immutable == gl.FALSE || uint64(got) != size {
		return fail(fmt.Errorf("glimport: glBufferStorageMemEXT: no storage was made (immutable %v, size %d of %d), though GL reported no error: memory object %d holds no memory (its import failed silently)", immutable != gl.FALSE, got, size, m.name))
	}
	return b, nil
}

// Name returns the GL buffer object name.
func (b *Buffer) Name() uint32 { return b.name }

// Size returns the buffer's size in bytes.
func (b *Buffer) Size() uint64 { return b.size }

// Close deletes the buffer object. It must run on the context's thread with
// the context current, and is idempotent.
func (b *Buffer) Close() error {
	return deleteOnce(&b.closed, gl.DeleteBuffers, &b.name, "glDeleteBuffers")
}
