// Package vkdevice is the part of a helperdev.Device that glbridge's Vulkan
// packages (vkalloc) work with and no caller may see: the binding's device
// objects, the queue and the one command buffer every glbridge submission
// records into. helperdev opens or adopts devices and wraps each in a
// helperdev.Device; Of finds the Device behind one, so that helperdev need
// not export binding types.
package vkdevice

import (
	"errors"
	"fmt"
	"sync"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/vk"
)

// Device is an opened or adopted Vulkan device with glbridge's command
// buffer on one of its queues.
type Device struct {
	Instance vk.Instance
	Physical vk.PhysicalDevice
	Dev      vk.Device
	// Family is the queue family submissions go to, which ownership
	// transfers to and from VK_QUEUE_FAMILY_EXTERNAL name.
	Family uint32
	queue  vk.Queue
	// owned says glbridge created the device and instance and destroys
	// them on Close; an adopted device's are the caller's.
	owned bool

	// mu serialises use of the queue and the command pool, which Vulkan
	// requires to be externally synchronised.
	mu     sync.Mutex
	pool   vk.CommandPool
	cb     vk.CommandBuffer
	fence  vk.Fence
	closed bool
}

// Commands gives a recording function access to the device and the command
// buffer being recorded.
type Commands struct {
	Dev vk.Device
	CB  vk.CommandBuffer
}

// New makes glbridge's command pool, command buffer and fence on queue
// index of family. With owned, Close destroys dev and inst too; otherwise
// it only frees the binding's function tables, leaving both to the caller.
// On failure nothing of inst and dev is destroyed or freed.
func New(inst vk.Instance, pd vk.PhysicalDevice, dev vk.Device, family, index uint32, owned bool) (*Device, error) {
	d := &Device{Instance: inst, Physical: pd, Dev: dev, Family: family, queue: dev.QueueAt(family, index), owned: owned}
	var err error
	if d.pool, err = dev.CreateCommandPool(family); err != nil {
		return nil, err
	}
	if d.cb, err = dev.AllocateCommandBuffer(d.pool); err != nil {
		dev.DestroyCommandPool(d.pool)
		return nil, err
	}
	if d.fence, err = dev.CreateFence(); err != nil {
		dev.DestroyCommandPool(d.pool)
		return nil, err
	}
	return d, nil
}

// Live returns an error wrapping bridge.ErrClosed once the device is
// closed.
func (d *Device) Live() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return bridge.ErrClosed
	}
	return nil
}

// Submit records commands with record, submits them waiting for wait and
// signalling signal (timeline says they are timeline semaphores: all of
// them, since glbridge never mixes the kinds in one submission), and waits
// for them to complete. It serialises with every other Submit on d.
func (d *Device) Submit(record func(Commands), wait, signal []vk.SemaphoreSubmit, timeline bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("Submit: %w", bridge.ErrClosed)
	}
	if err := d.Dev.BeginCommandBuffer(d.cb); err != nil {
		return err
	}
	record(Commands{Dev: d.Dev, CB: d.cb})
	if err := d.Dev.EndCommandBuffer(d.cb); err != nil {
		return err
	}
	if err := d.Dev.QueueSubmit(d.queue, d.cb, wait, signal, timeline, d.fence); err != nil {
		return err
	}
	const forever = ^uint64(0)
	werr := d.Dev.WaitForFence(d.fence, forever)
	if rerr := d.Dev.ResetFence(d.fence); werr == nil {
		werr = rerr
	}
	return werr
}

var errNoMemoryType = errors.New("no memory type fits")

// MemoryTypeIndex picks the first memory type allowed by typeBits that has
// all of want's property flags, or with want = 0 prefers device-local.
func (d *Device) MemoryTypeIndex(typeBits, want uint32) (uint32, error) {
	types := d.Physical.MemoryTypes()
	pick := func(flags uint32) (uint32, bool) {
		for i, t := range types {
			if typeBits&(1<<i) != 0 && t.PropertyFlags&flags == flags {
				return uint32(i), true
			}
		}
		return 0, false
	}
	if want == 0 {
		if i, ok := pick(vk.MemoryPropertyDeviceLocalBit); ok {
			return i, nil
		}
	}
	if i, ok := pick(want); ok {
		return i, nil
	}
	return 0, fmt.Errorf("%w: memoryTypeBits %#x with properties %#x", errNoMemoryType, typeBits, want)
}

// Close waits for glbridge's work on the device, destroys its command pool
// and fence, and then the device and instance if glbridge owns them. It is
// idempotent.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var err error
	if d.owned {
		err = d.Dev.WaitIdle()
	} else {
		// The caller's other queues are the caller's business: wait
		// only for the queue glbridge submits to.
		err = d.Dev.QueueWaitIdle(d.queue)
	}
	d.Dev.DestroyFence(d.fence)
	d.Dev.DestroyCommandPool(d.pool)
	if d.owned {
		vk.DestroyDevice(d.Dev)
		vk.DestroyInstance(d.Instance)
	} else {
		vk.ReleaseDevice(d.Dev)
		vk.ReleaseInstance(d.Instance)
	}
	return err
}

// of is helperdev's way from a *helperdev.Device to its Device, set by
// helperdev's init through SetOf; vkdevice cannot name helperdev's type
// without an import cycle.
var of func(any) *Device

// SetOf is called once, by helperdev's init.
func SetOf(f func(any) *Device) { of = f }

// Of returns the Device behind dev, a *helperdev.Device. Anything else is a
// programming error and panics.
func Of(dev any) *Device { return of(dev) }
