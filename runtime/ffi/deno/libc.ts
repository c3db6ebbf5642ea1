/** The libc binding on Deno, through Deno.dlopen (runtime/ffi/types.ts describes the calls). */
import { ERRNO, LibcError, type Libc } from "../types.ts";

// The project type-checks against Node's types; this is the part of Deno's FFI used here.
type Pointer = object | null;
declare const Deno: {
  dlopen(path: string, symbols: Record<string, { parameters: string[]; result: string }>): { symbols: Record<string, (...args: unknown[]) => unknown> };
  UnsafePointer: { of(buffer: ArrayBuffer | Uint8Array): Pointer; create(value: bigint): Pointer; value(pointer: Pointer): bigint | number };
  UnsafePointerView: { getArrayBuffer(pointer: Pointer, length: number, offset?: number): ArrayBuffer } & (new (pointer: Pointer) => { getInt32(offset?: number): number });
};

export function openLibc(): Libc {
  const { symbols: c } = Deno.dlopen("libc.so.6", {
    socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
    bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
    setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
    getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
    mmap: { parameters: ["usize", "usize", "i32", "i32", "i32", "i64"], result: "usize" },
    munmap: { parameters: ["usize", "usize"], result: "i32" },
    poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
    sendmmsg: { parameters: ["i32", "usize", "u32", "i32"], result: "i32" },
    recvmmsg: { parameters: ["i32", "usize", "u32", "i32", "usize"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
    eventfd: { parameters: ["u32", "i32"], result: "i32" },
    write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
    read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
    if_nametoindex: { parameters: ["buffer"], result: "u32" },
    __errno_location: { parameters: [], result: "pointer" },
  });
  const errno = () => new Deno.UnsafePointerView(c.__errno_location() as Pointer).getInt32();
  const check = (call: string, result: unknown) => {
    if ((result as number) < 0) throw new LibcError(call, errno());
    return result as number;
  };
  const length = new Uint32Array(1);
  return {
    binding: "deno",
    socket: (domain, type, protocol) => check(`socket(${domain}, ${type}, ${protocol})`, c.socket(domain, type, protocol)),
    bind: (fd, address) => void check("bind", c.bind(fd, address, address.byteLength)),
    setsockopt: (fd, level, name, value) => void check(`setsockopt(${level}, ${name})`, c.setsockopt(fd, level, name, value, value.byteLength)),
    getsockopt(fd, level, name, value) {
      length[0] = value.byteLength;
      check(`getsockopt(${level}, ${name})`, c.getsockopt(fd, level, name, value, length));
      return length[0];
    },
    mmap(size, prot, flags, fd, offset) {
      const address = Number(c.mmap(0, size, prot, flags, fd, BigInt(offset)) as bigint | number);
      if (address === 0 || address >= 2 ** 64 - 4096) throw new LibcError("mmap", errno());
      return address;
    },
    munmap: (address, size) => void check("munmap", c.munmap(address, size)),
    poll(fds, count, timeoutMs) {
      const n = c.poll(fds, count, timeoutMs) as number;
      if (n >= 0) return n;
      const e = errno();
      if (e === ERRNO.EINTR) return 0;
      throw new LibcError("poll", e);
    },
    sendmmsg(fd, vector, count, flags) {
      const n = c.sendmmsg(fd, vector, count, flags) as number;
      return n >= 0 ? n : -errno();
    },
    recvmmsg(fd, vector, count, flags) {
      const n = c.recvmmsg(fd, vector, count, flags, 0) as number;
      return n >= 0 ? n : -errno();
    },
    close: (fd) => void check("close", c.close(fd)),
    eventfd: (flags) => check("eventfd", c.eventfd(0, flags)),
    write(fd, bytes) {
      const n = Number(c.write(fd, bytes, bytes.byteLength));
      return n >= 0 ? n : -errno();
    },
    read(fd, bytes) {
      const n = Number(c.read(fd, bytes, bytes.byteLength));
      return n >= 0 ? n : -errno();
    },
    ifNameToIndex: (name) => c.if_nametoindex(new TextEncoder().encode(`${name}\0`)) as number,
    view: (address, size) => Deno.UnsafePointerView.getArrayBuffer(Deno.UnsafePointer.create(BigInt(address)), size),
    addressOf: (buffer) => Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer))),
  };
}
