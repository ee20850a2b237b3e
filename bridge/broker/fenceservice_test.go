package broker

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/vkalloc"
)

// TestServiceFence: a fence whose timeline semaphore the broker allocates
// (CreateFenceService), for a process without Vulkan. Where the device
// shares no timeline semaphores (Mesa 22.3's lavapipe) the broker refuses
// with NO_SEMAPHORE, and an unknown device is NO_DEVICE. Elsewhere the
// semaphore comes back as an fd (imported here on a device of the test's
// own, as another process would); the broker's value follows signals made
// on it that never pass through the broker; a WAIT_FENCE is answered by
// such a signal, by its timeout, and NOT_FOUND by its handle's close; a
// CPU signal through the broker reaches the semaphore, and a lower one
// raises the offset instead; the open record and LIST say "service"; and
// after a broker restart the creator's restore makes it a service fence
// again, on which the broker waits.
func TestServiceFence(t *testing.T) {
	td := vulkanDevice(t)
	b1 := &Broker{}
	path := testBroker(t, b1)
	c, events := reconnecting(t, path)
	if _, _, err := c.CreateFenceService(0, bridge.DeviceID{Driver: [16]byte{0xde, 0xad}}); !errors.Is(err, CodeNoDevice) {
		t.Errorf("CreateFenceService on no device: %v, want CodeNoDevice", err)
	}
	plain, err := c.CreateFence(0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.HostSignalFence(plain, 1); !errors.Is(err, CodeNoSemaphore) {
		t.Errorf("HostSignalFence of a fence the broker keeps: %v, want CodeNoSemaphore", err)
	}
	if err := c.CloseHandle(plain); err != nil {
		t.Fatal(err)
	}
	kmt, fd, err := c.CreateFenceService(5, td.id)
	if !td.caps.TimelineSemaphoreFD {
		if !errors.Is(err, CodeNoSemaphore) || !errors.Is(err, bridge.ErrNoExternalSemaphore) {
			t.Fatalf("CreateFenceService on %q, which shares no timeline semaphores: %v, want CodeNoSemaphore", td.caps.DeviceName, err)
		}
		t.Skipf("%q shares no timeline semaphores as fds: the refusal is all there is to test here", td.caps.DeviceName)
	}
	if err != nil {
		t.Fatal(err)
	}
	dev := openDevice(t, td.id)
	sem, err := vkalloc.ImportSemaphore(dev, fd, true)
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	defer sem.Close()
	if v, err := sem.Value(); err != nil || v != 5 {
		t.Fatalf("the semaphore starts at %d, %v; want the initial 5", v, err)
	}
	if l, err := c.ListFences(); err != nil || len(l) != 1 || !l[0].Service || !l[0].Timeline {
		t.Fatalf("ListFences = %+v, %v; want one service fence", l, err)
	}
	obs := dial(t, path)
	of, err := obs.OpenFenceKMT(kmt)
	if err != nil || !of.Service || of.FD < 0 {
		t.Fatalf("OpenFenceKMT = %+v, %v; want a service fence with its semaphore", of, err)
	}
	unix.Close(of.FD)

	// A signal on the semaphore, which the broker never hears of.
	if err := sem.Signal(7); err != nil {
		t.Fatal(err)
	}
	if v, err := obs.GetFence(of.Handle); err != nil || v.Value != 7 {
		t.Fatalf("GetFence after a signal on the semaphore = %+v, %v; want 7", v, err)
	}
	waited := make(chan error, 1)
	go func() {
		v, err := obs.WaitFence(of.Handle, 9, patience)
		if err == nil && v.Value < 9 {
			err = errors.New("answered below 9")
		}
		waited <- err
	}()
	waitFor(t, "the wait to be parked", func() bool { return fenceWaiters(t, c, kmt) == 1 })
	if err := sem.Signal(9); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("WaitFence(9) after the semaphore reached 9: %v", err)
		}
	case <-time.After(patience):
		t.Fatal("the semaphore reached 9 and the broker's wait did not end")
	}
	if _, err := obs.WaitFence(of.Handle, 100, 80*time.Millisecond); !errors.Is(err, CodeTimeout) {
		t.Errorf("WaitFence(100, 80ms): %v, want a timeout", err)
	}
	// A CPU signal through the broker reaches the semaphore; a lower one
	// moves the offset, not the semaphore.
	if _, err := c.HostSignalFence(kmt, 12); err != nil {
		t.Fatal(err)
	}
	if v, err := sem.Value(); err != nil || v != 12 {
		t.Fatalf("the semaphore after SignalFence(12) = %d, %v", v, err)
	}
	fv, err := c.HostSignalFence(kmt, 4)
	if err != nil || fv.Value != 4 || fv.Offset != 8 {
		t.Fatalf("SignalFence(4) = %+v, %v; want value 4, offset 8", fv, err)
	}
	if v, _ := sem.Value(); v != 12 {
		t.Fatalf("the semaphore went to %d on a lowering; it stays at 12", v)
	}
	// A wait whose handle closes ends NOT_FOUND.
	go func() {
		_, err := obs.WaitFence(of.Handle, 50, patience)
		waited <- err
	}()
	waitFor(t, "the second wait to be parked", func() bool { return fenceWaiters(t, c, kmt) == 1 })
	if err := obs.CloseHandle(of.Handle); err != nil {
		t.Fatal(err)
	}
	if err := <-waited; !errors.Is(err, CodeNotFound) {
		t.Errorf("a wait whose handle closed: %v, want CodeNotFound", err)
	}

	// After a restart the creator's restore makes it a service fence again:
	// the new broker waits on the semaphore.
	restart(t, b1, path, patience)
	if e := nextEvent(t, events); e.Restored != 1 || e.Refused != 0 {
		t.Fatalf("reconnection %+v, want 1 restored", e)
	}
	if l, err := c.ListFences(); err != nil || len(l) != 1 || !l[0].Service || l[0].Value.Offset != 8 {
		t.Fatalf("after the restart ListFences = %+v, %v; want the service fence, offset 8", l, err)
	}
	go func() {
		_, err := c.WaitFence(kmt, 6, patience)
		waited <- err
	}()
	obs2 := dial(t, path)
	waitFor(t, "the wait on the new broker to be parked", func() bool { return fenceWaiters(t, obs2, kmt) == 1 })
	if err := sem.Signal(6 + 8); err != nil {
		t.Fatal(err)
	}
	if err := <-waited; err != nil {
		t.Fatalf("the new broker's wait: %v", err)
	}
	if err := c.CloseHandle(kmt); err != nil {
		t.Fatal(err)
	}
}
