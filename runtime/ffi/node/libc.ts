/** The libc binding on Node, through koffi (runtime/ffi/types.ts describes the calls). */
import { createRequire } from "node:module";
import { embeddedNativeModule } from "../../assets/assets.ts";
import { ERRNO, LibcError, type Libc } from "../types.ts";

interface Koffi {
  load(path: string): { func(signature: string): (...args: unknown[]) => number };
  errno(): number;
  view(address: number, length: number): ArrayBuffer;
}

export function openLibc(): Libc {
  // The single binary carries koffi's native module, whose exports are the API used here.
  const koffi = (embeddedNativeModule("koffi.node") ?? createRequire(import.meta.url)("koffi")) as Koffi;
  const lib = koffi.load("libc.so.6");
  const fn = (signature: string) => lib.func(signature);
  const socket = fn("int socket(int domain, int type, int protocol)");
  const bind = fn("int bind(int fd, void *addr, uint32_t len)");
  const setsockopt = fn("int setsockopt(int fd, int level, int name, void *value, uint32_t len)");
  const getsockopt = fn("int getsockopt(int fd, int level, int name, void *value, void *len)");
  const mmap = fn("uintptr_t mmap(uintptr_t addr, size_t length, int prot, int flags, int fd, int64_t offset)");
  const munmap = fn("int munmap(uintptr_t addr, size_t length)");
  const poll = fn("int poll(void *fds, uint64_t nfds, int timeout)");
  const sendmmsg = fn("int sendmmsg(int fd, uintptr_t vector, uint32_t vlen, int flags)");
  const recvmmsg = fn("int recvmmsg(int fd, uintptr_t vector, uint32_t vlen, int flags, uintptr_t timeout)");
  const close = fn("int close(int fd)");
  const eventfd = fn("int eventfd(unsigned int initval, int flags)");
  const write = fn("intptr_t write(int fd, void *buf, size_t count)");
  const read = fn("intptr_t read(int fd, void *buf, size_t count)");
  const ifNameToIndex = fn("uint32_t if_nametoindex(const char *name)");
  // memmove(p, p, 0) returns p: the one portable way to learn where koffi finds an ArrayBuffer.
  const memmove = fn("uintptr_t memmove(void *dst, void *src, size_t n)");

  const check = (call: string, result: number) => {
    if (result < 0) throw new LibcError(call, koffi.errno());
    return result;
  };
  const length = new Uint32Array(1);
  return {
    binding: "koffi",
    socket: (domain, type, protocol) => check(`socket(${domain}, ${type}, ${protocol})`, socket(domain, type, protocol)),
    bind: (fd, address) => void check("bind", bind(fd, address, address.byteLength)),
    setsockopt: (fd, level, name, value) => void check(`setsockopt(${level}, ${name})`, setsockopt(fd, level, name, value, value.byteLength)),
    getsockopt(fd, level, name, value) {
      length[0] = value.byteLength;
      check(`getsockopt(${level}, ${name})`, getsockopt(fd, level, name, value, length));
      return length[0];
    },
    mmap(size, prot, flags, fd, offset) {
      const address = mmap(0, size, prot, flags, fd, offset);
      // MAP_FAILED is (void *)-1, read back as 2^64 - 1.
      if (address === 0 || address >= 2 ** 64 - 4096) throw new LibcError("mmap", koffi.errno());
      return address;
    },
    munmap: (address, size) => void check("munmap", munmap(address, size)),
    poll(fds, count, timeoutMs) {
      const n = poll(fds, count, timeoutMs);
      if (n >= 0) return n;
      const errno = koffi.errno();
      if (errno === ERRNO.EINTR) return 0;
      throw new LibcError("poll", errno);
    },
    sendmmsg(fd, vector, count, flags) {
      const n = sendmmsg(fd, vector, count, flags);
      return n >= 0 ? n : -koffi.errno();
    },
    recvmmsg(fd, vector, count, flags) {
      const n = recvmmsg(fd, vector, count, flags, 0);
      return n >= 0 ? n : -koffi.errno();
    },
    close: (fd) => void check("close", close(fd)),
    eventfd: (flags) => check("eventfd", eventfd(0, flags)),
    write(fd, bytes) {
      const n = write(fd, bytes, bytes.byteLength);
      return n >= 0 ? n : -koffi.errno();
    },
    read(fd, bytes) {
      const n = read(fd, bytes, bytes.byteLength);
      return n >= 0 ? n : -koffi.errno();
    },
    ifNameToIndex: (name) => ifNameToIndex(name),
    view: (address, size) => koffi.view(address, size),
    addressOf: (buffer) => memmove(buffer, buffer, 0),
  };
}
