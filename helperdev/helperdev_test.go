package helperdev_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/vkalloc"
)

func TestListAndOpen(t *testing.T) {
	devs, err := helperdev.ListPhysicalDevices()
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) == 0 {
		t.Fatal("no Vulkan physical devices")
	}
	for _, d := range devs {
		t.Logf("%q driver %q api %s driverUUID %s deviceUUID %s external_memory_fd=%v", d.Name, d.DriverName, d.APIVersion, d.Device.Driver, d.Device.Device, d.ExternalMemoryFD)
		if d.Device.Driver.IsZero() && d.Device.Device.IsZero() {
			t.Errorf("%q reports all-zero UUIDs", d.Name)
		}
		if !d.ExternalMemoryFD {
			continue
		}
		dev, err := helperdev.Open(helperdev.Config{Device: bridge.DeviceID{Driver: d.Device.Driver, Device: d.Device.Device}})
		if err != nil {
			t.Fatalf("Open %q: %v", d.Name, err)
		}
		c := dev.Caps()
		if c.DeviceName != d.Name || c.Device.Driver != d.Device.Driver || !c.ExternalMemoryFD {
			t.Errorf("caps %+v do not describe %+v", c, d)
		}
		t.Logf("caps: %+v", c)
		if err := dev.Close(); err != nil {
			t.Fatal(err)
		}
		if err := dev.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		desc := bridge.Desc{Dimension: bridge.DimensionTexture2D, Width: 4, Height: 4, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, Format: bridge.FormatR8G8B8A8Unorm}
		if _, err := vkalloc.NewImage(dev, desc); !errors.Is(err, bridge.ErrClosed) {
			t.Fatalf("NewImage after Close: %v, want bridge.ErrClosed", err)
		}
	}
}

func TestUUIDMismatch(t *testing.T) {
	var u bridge.UUID
	copy(u[:], "no-such-device!!")
	_, err := helperdev.Open(helperdev.Config{Device: bridge.DeviceID{Driver: u, Device: u}, Peer: `GL "imaginary"`})
	if !errors.Is(err, bridge.ErrUUIDMismatch) {
		t.Fatalf("Open with unknown UUIDs: %v, want ErrUUIDMismatch", err)
	}
	msg := err.Error()
	devs, _ := helperdev.ListPhysicalDevices()
	for _, want := range []string{u.String(), `GL "imaginary"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	for _, d := range devs {
		if !strings.Contains(msg, d.Name) || !strings.Contains(msg, d.Device.Device.String()) {
			t.Errorf("error %q does not list device %q with its UUID", msg, d.Name)
		}
	}
}

// A device with the right device UUID but another driver's UUID is a
// different driver on the same GPU (AMDVLK beside radeonsi): no match.
func TestDriverUUIDMustMatchToo(t *testing.T) {
	devs, err := helperdev.ListPhysicalDevices()
	if err != nil || len(devs) == 0 {
		t.Fatalf("ListPhysicalDevices: %v %v", devs, err)
	}
	d := devs[0]
	drv := d.Device.Driver
	drv[15] ^= 1 // differs in the last byte only: past Mesa's zero padding
	if _, err := helperdev.Open(helperdev.Config{Device: bridge.DeviceID{Driver: drv, Device: d.Device.Device}}); !errors.Is(err, bridge.ErrUUIDMismatch) {
		t.Fatalf("driver UUID differing in byte 15 matched: %v", err)
	}
}
