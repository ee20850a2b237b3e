package vkalloc_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/vk"
	"github.com/glbridge/glbridge/vkalloc"
)

// callerDevice is what a DXVK-style renderer has before it meets glbridge:
// a VkInstance and VkDevice of its own, made here through the binding as
// the renderer would through its loader, on the physical device of id.
type callerDevice struct {
	inst vk.Instance
	pd   vk.PhysicalDevice
	dev  vk.Device
	exts []string
}

func newCallerDevice(t *testing.T, id bridge.DeviceID) *callerDevice {
	t.Helper()
	inst, err := vk.CreateInstance("caller", vk.MakeVersion(1, 1, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	pds, err := inst.PhysicalDevices()
	if err != nil {
		vk.DestroyInstance(inst)
		t.Fatal(err)
	}
	for _, pd := range pds {
		p := pd.Properties(false)
		if (bridge.DeviceID{Driver: p.DriverUUID, Device: p.DeviceUUID}) != id {
			continue
		}
		exts := []string{vk.KHRExternalMemory, vk.KHRExternalMemoryFD}
		dev, err := vk.CreateDevice(pd, 0, exts, false)
		if err != nil {
			vk.DestroyInstance(inst)
			t.Fatal(err)
		}
		return &callerDevice{inst: inst, pd: pd, dev: dev, exts: exts}
	}
	vk.DestroyInstance(inst)
	t.Fatalf("no physical device with %s", id)
	return nil
}

func (c *callerDevice) handles() bridge.VulkanHandles {
	return bridge.VulkanHandles{
		Instance: c.inst.Handle(), PhysicalDevice: c.pd.Handle(), Device: c.dev.Handle(),
		QueueFamily: 0, QueueIndex: 0, Extensions: slices.Clone(c.exts),
	}
}

// TestAdoptCallerDevice imports a shared image into a device the test made
// itself and owns: glbridge reads the exporter's texels there, and closing
// glbridge's view leaves the caller's device and instance alive.
func TestAdoptCallerDevice(t *testing.T) {
	exporter := openAny(t)
	im, err := vkalloc.NewImage(exporter, desc2D(67, 33))
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	want := pattern(67, 33, 0x5a)
	if err := im.WritePixels(bridge.Subresource{}, want, vkalloc.Sync{}); err != nil {
		t.Fatal(err)
	}

	caller := newCallerDevice(t, exporter.Caps().Device)
	for round := range 2 {
		dev, err := helperdev.Adopt(caller.handles())
		if err != nil {
			t.Fatalf("Adopt: %v", err)
		}
		if h := dev.Handles(); h.Device != caller.dev.Handle() || h.Instance != caller.inst.Handle() || h.PhysicalDevice != caller.pd.Handle() {
			t.Fatalf("Handles() = %+v, not the caller's", h)
		}
		if c := dev.Caps(); c.Device != exporter.Caps().Device || !c.ExternalMemoryFD || c.ExternalSemaphoreFD {
			t.Fatalf("Caps() = %+v: want the exporter's UUIDs, memory fds, and no semaphore fds (not enabled by the caller)", c)
		}
		fd, err := im.ExportFD()
		if err != nil {
			t.Fatal(err)
		}
		imported, err := vkalloc.ImportImage(dev, im.Allocation(), fd)
		if err != nil {
			t.Fatalf("ImportImage on the caller's device: %v", err)
		}
		got, err := imported.ReadPixels(bridge.Subresource{}, vkalloc.Sync{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("round %d: the caller's device read different bytes (first diff at %d)", round, firstDiff(got, want))
		}
		imported.Close()
		if err := dev.Close(); err != nil {
			t.Fatalf("Close of the adopted device: %v", err)
		}
		if err := dev.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if _, err := vkalloc.NewImage(dev, desc2D(4, 4)); !errors.Is(err, bridge.ErrClosed) {
			t.Fatalf("NewImage after Close: %v, want bridge.ErrClosed", err)
		}
		// The caller's device outlives glbridge's view of it: it still
		// answers, and the next round adopts it again.
		if err := caller.dev.WaitIdle(); err != nil {
			t.Fatalf("the caller's device after Close: %v", err)
		}
	}
	vk.DestroyDevice(caller.dev)
	vk.DestroyInstance(caller.inst)
}

// TestAdoptRefusesDeviceWithoutMemoryFD: a caller's device that did not
// enable VK_KHR_external_memory_fd cannot share, and says so.
func TestAdoptRefusesDeviceWithoutMemoryFD(t *testing.T) {
	exporter := openAny(t)
	caller := newCallerDevice(t, exporter.Caps().Device)
	defer vk.DestroyInstance(caller.inst)
	defer vk.DestroyDevice(caller.dev)
	h := caller.handles()
	h.Extensions = nil
	if _, err := helperdev.Adopt(h); !errors.Is(err, bridge.ErrNoExternalMemory) {
		t.Fatalf("Adopt without VK_KHR_external_memory_fd: %v, want bridge.ErrNoExternalMemory", err)
	}
}
