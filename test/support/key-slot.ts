// Redis Cluster's key → slot mapping, computed locally so that tests can check slots without a
// cluster.

/** CRC16/XMODEM, the checksum Redis Cluster maps keys to slots with. */
export function crc16(input: string): number {
  let crc = 0;
  for (const byte of Buffer.from(input, 'utf8')) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

/** The cluster slot of a key, hash tags included (the rules of CLUSTER KEYSLOT). */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) {
      return crc16(key.slice(open + 1, close)) % 16_384;
    }
  }
  return crc16(key) % 16_384;
}
