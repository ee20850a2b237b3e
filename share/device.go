package share

import (
	"errors"
	"fmt"
	"sync"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/helperdev"
)

// openExporting opens a Vulkan device that can export memory as opaque
// fds: the one whose UUIDs are prefer's when there is one (so that Vulkan
// processes matched to the same GL open its memory zero-copy), the first
// with VK_KHR_external_memory_fd otherwise.
func openExporting(prefer *helperdev.Config) (*helperdev.Device, error) {
	if prefer != nil {
		if dev, err := helperdev.Open(*prefer); err == nil {
			return dev, nil
		}
	}
	devs, err := helperdev.ListPhysicalDevices()
	if err != nil {
		return nil, fmt.Errorf("share: %w: %w", bridge.ErrNoVulkan, err)
	}
	var errs []error
	for _, d := range devs {
		if !d.ExternalMemoryFD {
			errs = append(errs, fmt.Errorf("%q lacks VK_KHR_external_memory_fd", d.Name))
			continue
		}
		dev, err := helperdev.Open(helperdev.Config{Device: bridge.DeviceID{Driver: d.Device.Driver, Device: d.Device.Device}, Peer: "share"})
		if err == nil {
			return dev, nil
		}
		errs = append(errs, err)
	}
	if len(devs) == 0 {
		errs = append(errs, errors.New("no Vulkan physical devices"))
	}
	return nil, fmt.Errorf("share: %w: %w", bridge.ErrNoVulkan, errors.Join(errs...))
}

// side is what a GL and a Vulkan have in common: their options, the
// devices they copy through, and whether they are closed.
type side struct {
	opts   Options
	devs   devices
	mu     sync.Mutex
	closed bool
}

// Close releases the Vulkan devices. Every resource made or opened
// through it must be closed first. It is idempotent.
func (s *side) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.devs.closeAll()
	}
	return nil
}

func (s *side) live(op string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("share: %s: %w", op, bridge.ErrClosed)
	}
	return nil
}

// devices are the Vulkan devices a GL or Vulkan object copies through:
// its own (first), and those opened for records of other devices. They
// live as long as the object that holds them.
type devices struct {
	mu   sync.Mutex
	list []*helperdev.Device
}

// forRecord returns a device of a's driver and device UUIDs, opening one
// when none is open yet. noVulkan refuses to.
func (ds *devices) forRecord(a bridge.Allocation, noVulkan bool) (*helperdev.Device, error) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	for _, d := range ds.list {
		if c := d.Caps(); c.Device.Driver == a.Device.Driver && c.Device.Device == a.Device.Device {
			return d, nil
		}
	}
	if noVulkan {
		return nil, fmt.Errorf("share: %w: the resource is memory of the Vulkan device with driver UUID %s, device UUID %s, which only a Vulkan device can copy", bridge.ErrNoVulkan, a.Device.Driver, a.Device.Device)
	}
	d, err := helperdev.Open(helperdev.Config{Device: bridge.DeviceID{Driver: a.Device.Driver, Device: a.Device.Device}, Peer: "the allocation record"})
	if err != nil {
		return nil, fmt.Errorf("share: no Vulkan device in this process can open the resource's memory: %w", err)
	}
	ds.list = append(ds.list, d)
	return d, nil
}

func (ds *devices) add(d *helperdev.Device) {
	ds.mu.Lock()
	ds.list = append(ds.list, d)
	ds.mu.Unlock()
}

func (ds *devices) closeAll() {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	for _, d := range ds.list {
		d.Close()
	}
	ds.list = nil
}

// deviceName is dev's name, "" for none.
func deviceName(dev *helperdev.Device) string {
	if dev == nil {
		return ""
	}
	return dev.Caps().DeviceName
}
