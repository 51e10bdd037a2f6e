package uring

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The parts of the io_uring ABI (include/uapi/linux/io_uring.h) used here.
const (
	opClose = 19
	opRead  = 22

	enterGetEvents = 1 << 0

	featSingleMmap = 1 << 0
	featNoDrop     = 1 << 1
	featRWCurPos   = 1 << 3 // 5.6, with IORING_OP_READ and IORING_OP_CLOSE

	offSQRing = 0
	offSQEs   = 0x10000000
)

type sqRingOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqRingOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqRingOffsets
	cqOff                                                                  cqRingOffsets
}

type sqe struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	opFlags     uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	_           uint64
}

type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// ErrFull is what Read and CloseFd return when the batch holds as many
// requests as the ring: Run it, then queue more.
var ErrFull = errors.New("uring: ring full")

// Ring is one io_uring instance, for one goroutine at a time. Requests
// are queued with Read and CloseFd and sent with Run, which waits for all of
// them.
type Ring struct {
	fd         int
	rings      []byte // the submission and completion rings, one mapping
	sqeMap     []byte
	sqes       []sqe
	sqHead     *uint32
	sqTail     *uint32
	sqMask     uint32
	sqArray    []uint32
	cqHead     *uint32
	cqTail     *uint32
	cqMask     uint32
	cqes       []cqe
	queued     uint32 // written to the submission ring, not yet submitted
	inFlight   int    // submitted, completion not yet seen
	maxBatched int
	broken     bool // Run failed: requests may be in flight
}

// New sets up a ring of the given number of entries (a power of two).
func New(entries uint32) (*Ring, error) {
	var p params
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, fmt.Errorf("io_uring_setup: %w", errno)
	}
	r := &Ring{fd: int(fd)}
	if need := uint32(featSingleMmap | featNoDrop | featRWCurPos); p.features&need != need {
		r.Close()
		return nil, fmt.Errorf("%w: kernel older than 5.6 (features %#x)", errOldKernel, p.features)
	}
	size := max(p.sqOff.array+p.sqEntries*4, p.cqOff.cqes+p.cqEntries*uint32(unsafe.Sizeof(cqe{})))
	var err error
	if r.rings, err = unix.Mmap(r.fd, offSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		r.Close()
		return nil, fmt.Errorf("io_uring: map rings: %w", err)
	}
	if r.sqeMap, err = unix.Mmap(r.fd, offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(sqe{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		r.Close()
		return nil, fmt.Errorf("io_uring: map submission entries: %w", err)
	}
	u32 := func(off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&r.rings[off])) }
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&r.sqeMap[0])), p.sqEntries)
	r.sqHead, r.sqTail, r.sqMask = u32(p.sqOff.head), u32(p.sqOff.tail), *u32(p.sqOff.ringMask)
	r.sqArray = unsafe.Slice(u32(p.sqOff.array), p.sqEntries)
	r.cqHead, r.cqTail, r.cqMask = u32(p.cqOff.head), u32(p.cqOff.tail), *u32(p.cqOff.ringMask)
	r.cqes = unsafe.Slice((*cqe)(unsafe.Pointer(&r.rings[p.cqOff.cqes])), p.cqEntries)
	// Never more requests at once than the completion ring holds, so that
	// no completion waits for room.
	r.maxBatched = int(min(p.sqEntries, p.cqEntries))
	return r, nil
}

// errOldKernel is a ring without the features this package relies on.
var errOldKernel = errors.New("io_uring")

// Refused reports whether New's error means io_uring is not to be had in
// this process at all (not built in, disabled by kernel.io_uring_disabled
// or a seccomp profile, a kernel too old), rather than short of something
// for now (descriptors, memory), which the next try may have.
func Refused(err error) bool {
	return errors.Is(err, errOldKernel) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) ||
		errors.Is(err, unix.EACCES) || errors.Is(err, unix.EINVAL)
}

// Broken reports whether Run has failed: the ring is not to be used again.
func (r *Ring) Broken() bool { return r.broken }

// Close releases the ring. Requests still queued are dropped unsent;
// those in flight complete in the kernel, into their buffers, whatever
// became of the ring.
func (r *Ring) Close() error {
	if r.sqeMap != nil {
		unix.Munmap(r.sqeMap)
	}
	if r.rings != nil {
		unix.Munmap(r.rings)
	}
	return unix.Close(r.fd)
}

// Read queues a read of len(buf) bytes of fd from offset 0, as pread(2)
// would: the file position does not move. The kernel writes into buf
// after Read returns: buf must be memory that stays where it is (Go's heap
// does not move, a mapping does not either) and must not be touched until
// Run returns; should Run fail, until the process ends. tag names the
// request to Run's callback.
func (r *Ring) Read(fd int, buf []byte, tag uint64) error {
	if len(buf) == 0 {
		return errors.New("uring: empty read buffer")
	}
	return r.queue(sqe{opcode: opRead, fd: int32(fd), addr: uint64(uintptr(unsafe.Pointer(&buf[0]))), len: uint32(len(buf)), userData: tag})
}

// CloseFd queues close(fd).
func (r *Ring) CloseFd(fd int, tag uint64) error {
	return r.queue(sqe{opcode: opClose, fd: int32(fd), userData: tag})
}

func (r *Ring) queue(e sqe) error {
	if int(r.queued)+r.inFlight >= r.maxBatched {
		return ErrFull
	}
	tail := atomic.LoadUint32(r.sqTail)
	i := tail & r.sqMask
	r.sqes[i] = e
	r.sqArray[i] = i
	atomic.StoreUint32(r.sqTail, tail+1)
	r.queued++
	return nil
}

// Run submits what is queued and waits for every request in flight,
// calling done with each one's tag and result: for a read, the bytes read
// or -errno; for a close, 0 or -errno. On an error, requests already
// submitted whose completion done did not see may still complete: their
// buffers are not to be reused, their descriptors not to be closed again,
// and the ring not to be used again.
func (r *Ring) Run(done func(tag uint64, res int32)) error {
	if r.broken {
		return errors.New("uring: ring broken by an earlier error")
	}
	for r.queued > 0 || r.inFlight > 0 {
		_, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(r.queued),
			uintptr(int(r.queued)+r.inFlight), enterGetEvents, 0, 0)
		// What the kernel took is read from the ring, not the return
		// value: an interrupted wait may follow a submission.
		consumed := r.queued - (atomic.LoadUint32(r.sqTail) - atomic.LoadUint32(r.sqHead))
		r.queued -= consumed
		r.inFlight += int(consumed)
		r.reap(done)
		switch errno {
		case 0, unix.EINTR, unix.EAGAIN, unix.EBUSY:
			// Interrupted, or short of kernel memory: try again.
		default:
			r.broken = true
			return fmt.Errorf("io_uring_enter: %w", errno)
		}
	}
	return nil
}

func (r *Ring) reap(done func(tag uint64, res int32)) {
	head := atomic.LoadUint32(r.cqHead)
	tail := atomic.LoadUint32(r.cqTail)
	for ; head != tail; head++ {
		c := r.cqes[head&r.cqMask]
		r.inFlight--
		done(c.userData, c.res)
	}
	atomic.StoreUint32(r.cqHead, head)
}
