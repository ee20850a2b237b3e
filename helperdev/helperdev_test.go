package helperdev_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/helperdev"
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
		t.Logf("%q driver %q api %s driverUUID %s deviceUUID %s external_memory_fd=%v", d.Name, d.DriverName, d.APIVersion, d.DriverUUID, d.DeviceUUID, d.ExternalMemoryFD)
		if d.DriverUUID.IsZero() && d.DeviceUUID.IsZero() {
			t.Errorf("%q reports all-zero UUIDs", d.Name)
		}
		if !d.ExternalMemoryFD {
			continue
		}
		dev, err := helperdev.Open(helperdev.Config{DriverUUID: d.DriverUUID, DeviceUUID: d.DeviceUUID})
		if err != nil {
			t.Fatalf("Open %q: %v", d.Name, err)
		}
		c := dev.Caps()
		if c.DeviceName != d.Name || c.DriverUUID != d.DriverUUID || !c.ExternalMemoryFD {
			t.Errorf("caps %+v do not describe %+v", c, d)
		}
		t.Logf("caps: %+v", c)
		if err := dev.Close(); err != nil {
			t.Fatal(err)
		}
		if err := dev.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if err := dev.Submit(func(helperdev.Commands) { t.Error("recorded on a closed device") }); !errors.Is(err, bridge.ErrClosed) {
			t.Fatalf("Submit after Close: %v", err)
		}
	}
}

func TestUUIDMismatch(t *testing.T) {
	var u bridge.UUID
	copy(u[:], "no-such-device!!")
	_, err := helperdev.Open(helperdev.Config{DriverUUID: u, DeviceUUID: u, Peer: `GL "imaginary"`})
	if !errors.Is(err, helperdev.ErrUUIDMismatch) {
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
		if !strings.Contains(msg, d.Name) || !strings.Contains(msg, d.DeviceUUID.String()) {
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
	drv := d.DriverUUID
	drv[15] ^= 1 // differs in the last byte only: past Mesa's zero padding
	if _, err := helperdev.Open(helperdev.Config{DriverUUID: drv, DeviceUUID: d.DeviceUUID}); !errors.Is(err, helperdev.ErrUUIDMismatch) {
		t.Fatalf("driver UUID differing in byte 15 matched: %v", err)
	}
}

func TestOpenForGLWithoutMemoryObject(t *testing.T) {
	_, err := helperdev.OpenForGL(helperdev.GLIdentity{Renderer: "old GL"})
	if !errors.Is(err, helperdev.ErrNoExternalMemory) || !strings.Contains(err.Error(), "GL_EXT_memory_object_fd") {
		t.Fatalf("OpenForGL without GL_EXT_memory_object_fd: %v", err)
	}
}
