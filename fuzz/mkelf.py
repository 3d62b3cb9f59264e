#!/usr/bin/env python3
"""Writes the tiny ELF seeds of fuzz/corpus/elf/ (run from the repository root).

Hand-made ELF64 x86-64 files of a few hundred bytes, so that the fuzzer's
mutations land on headers rather than on code: a static executable with a
bss, a PIE that names a loader (PT_INTERP) and a library (DT_NEEDED) with a
PT_DYNAMIC, PT_GNU_RELRO and PT_GNU_STACK, and truncated copies of it. The
fuzz target places its input at the loader's and the library's paths too,
so a PIE is loaded as program, loader and library at once; an input may
also hold the program, the separator SPLIT and the loader/library apart.
"""
import struct, os

PT_LOAD, PT_DYNAMIC, PT_INTERP, PT_PHDR = 1, 2, 3, 6
PT_GNU_STACK, PT_GNU_RELRO = 0x6474e551, 0x6474e552
PF_X, PF_W, PF_R = 1, 2, 4
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ = 0, 1, 5, 10

def ehdr(etype, entry, phnum):
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    return ident + struct.pack("<HHIQQQIHHHHHH", etype, 62, 1, entry, 64, 0, 0,
                               64, 56, phnum, 64, 0, 0)

def phdr(ptype, flags, off, vaddr, filesz, memsz, align):
    return struct.pack("<IIQQQQQQ", ptype, flags, off, vaddr, vaddr, filesz, memsz, align)

def static_exec():
    base, phnum = 0x400000, 2
    code_off = 64 + 56 * phnum
    code = b"\x31\xff\xb8\x3c\x00\x00\x00\x0f\x05"      # exit(0)
    size = code_off + len(code)
    out = ehdr(2, base + code_off, phnum)
    out += phdr(PT_LOAD, PF_R | PF_X, 0, base, size, size + 0x3000, 0x1000)
    out += phdr(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 16)
    return out + code

def pie(with_interp=True):
    phnum = 7 if with_interp else 6
    interp = b"/lib64/ld-linux-x86-64.so.2\0"
    strtab = b"\0libf.so\0"
    off_interp = 64 + 56 * phnum
    off_code = off_interp + len(interp)
    code = b"\x31\xff\xb8\x3c\x00\x00\x00\x0f\x05"
    text_end = off_code + len(code)
    # The data segment: its own page in memory, same offset modulo 4096.
    off_data = (text_end + 15) & ~15
    vdata = 0x1000 + off_data
    off_str = off_data
    off_dyn = off_str + 16
    dyn = struct.pack("<qQqQqQqQ", DT_NEEDED, 1, DT_STRTAB, vdata, DT_STRSZ, len(strtab),
                      DT_NULL, 0)
    data_end = off_dyn + len(dyn)
    out = ehdr(3, off_code, phnum)
    out += phdr(PT_PHDR, PF_R, 64, 64, 56 * phnum, 56 * phnum, 8)
    if with_interp:
        out += phdr(PT_INTERP, PF_R, off_interp, off_interp, len(interp), len(interp), 1)
    out += phdr(PT_LOAD, PF_R | PF_X, 0, 0, text_end, text_end, 0x1000)
    out += phdr(PT_LOAD, PF_R | PF_W, off_data, vdata, data_end - off_data,
                data_end - off_data + 0x2000, 0x1000)
    out += phdr(PT_DYNAMIC, PF_R | PF_W, off_dyn, vdata + 16, len(dyn), len(dyn), 8)
    out += phdr(PT_GNU_RELRO, PF_R, off_data, vdata, 16, 16, 1)
    out += phdr(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 16)
    out += interp + code
    out += bytes(off_data - len(out))
    out += strtab + bytes(16 - len(strtab)) + dyn
    return out

d = "fuzz/corpus/elf"
os.makedirs(d, exist_ok=True)
SPLIT = b"\n--kmm-fuzz-split--\n"
files = {"static": static_exec(), "pie-needed": pie(False),
         "pie-interp-needed": pie() + SPLIT + pie(False),
         "pie-interp-static": pie() + SPLIT + static_exec()}
p = pie()
files["trunc-header"] = p[:40]
files["trunc-phdrs"] = p[:64 + 56 * 3 + 10]
files["trunc-dynamic"] = p[:len(p) - 20]
files["not-elf"] = b"#!/bin/sh\necho hello\n"
files["empty"] = b""
for name, data in files.items():
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
