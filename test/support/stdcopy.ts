// Docker's stdcopy framing of a non-TTY log stream, split back into stdout and stderr: each frame
// is an 8-byte header (stream 1 or 2, three zero bytes, a big-endian length) and its payload.
export function demux(buf: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let at = 0;
  while (at + 8 <= buf.length) {
    const stream = buf[at]!;
    const len = buf.readUInt32BE(at + 4);
    if (stream !== 1 && stream !== 2) throw new Error(`bad stdcopy frame at byte ${at}: stream ${stream}`);
    if (at + 8 + len > buf.length) throw new Error(`truncated stdcopy frame at byte ${at}`);
    (stream === 1 ? out : err).push(buf.subarray(at + 8, at + 8 + len));
    at += 8 + len;
  }
  if (at !== buf.length) throw new Error(`${buf.length - at} stray bytes after the last stdcopy frame`);
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}
