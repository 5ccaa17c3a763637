// Known-answer vectors of docs/protocol.md (vectors/sealed-v1.json): the root KDF with its header
// key, the header MAC, origin ids, group ids, the sealed records and the member-list digest.
// KDF and MAC are recomputed independently with Node's OpenSSL, so the file is not only the
// code's own output; the record bytes are fixed here and must decode back to their fields.
import { createHash, createHmac, hkdfSync } from 'node:crypto';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { contextHash } from './envelope';
import { membersDigest } from './groups';
import { hkdfSha256, hmacSha256 } from './kdf';
import { decodePlaintext, encodePlaintext, peerTag, type PlaintextRecord } from './plaintext';
import { originId } from './veil';
import vectors from './vectors/sealed-v1.json';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('sealed-v1 vectors', () => {
  it('KDF_RK: HKDF(salt = rk, ikm = dh, "Veil ratchet", 96) = rk′ || ck || hk', () => {
    const v = vectors.kdfRoot;
    const ours = hkdfSha256(hexToBytes(v.dh), hexToBytes(v.rootKey), utf8('Veil ratchet'), 96);
    const openssl = new Uint8Array(
      hkdfSync('sha256', hexToBytes(v.dh), hexToBytes(v.rootKey), 'Veil ratchet', 96),
    );
    expect(bytesToHex(openssl)).toBe(bytesToHex(ours));
    expect(bytesToHex(ours)).toBe(v.rootKeyOut + v.chainKey + v.headerKey);
  });

  it('header MAC: HMAC-SHA256(hk, AD || header up to the MAC)[0..8]', () => {
    const v = vectors.headerMac;
    const data = new Uint8Array([...hexToBytes(v.ad), ...hexToBytes(v.header)]);
    const openssl = createHmac('sha256', hexToBytes(v.headerKey)).update(data).digest();
    expect(openssl.subarray(0, 8).toString('hex')).toBe(v.mac);
    expect(bytesToHex(hmacSha256(hexToBytes(v.headerKey), data).subarray(0, 8))).toBe(v.mac);
  });

  it('origin id: SHA-256(lbytes(site) || lbytes(name))[0..4]', () => {
    const v = vectors.originId;
    const site = utf8(v.site);
    const name = utf8(v.name);
    const body = new Uint8Array([site.length, ...site, name.length, ...name]);
    expect(createHash('sha256').update(body).digest('hex').slice(0, 8)).toBe(v.id);
    expect(bytesToHex(originId({ site: v.site, name: v.name }))).toBe(v.id);
  });

  it('group id: SHA-256("Veil context v1" || context)', () => {
    const v = vectors.groupId;
    expect(createHash('sha256').update(`Veil context v1${v.context}`).digest('hex')).toBe(
      v.groupId,
    );
    expect(bytesToHex(contextHash(v.context))).toBe(v.groupId);
  });

  it('records encode to the listed bytes and decode back', () => {
    const fill = (n: number, b: number) => new Uint8Array(n).fill(b);
    const origin = { site: vectors.originId.site, name: vectors.originId.name };
    const cases: [string, PlaintextRecord[]][] = [
      [
        vectors.records.textWithStamp,
        [
          { type: 'text', text: 'hi' },
          { type: 'stamp', seq: 3, sentAt: 1_700_000_000, originId: originId(origin) },
        ],
      ],
      [vectors.records.origin, [{ type: 'origin', ...origin }]],
      [
        vectors.records.treeHead,
        [
          {
            type: 'tree-head',
            origin: 'localhost/veil-directory',
            treeSize: 5,
            rootHash: fill(32, 9),
            timestamp: 1_700_000_000,
            signature: fill(64, 7),
          },
        ],
      ],
      [
        vectors.records.membership,
        [
          {
            type: 'membership',
            groupId: fill(32, 5),
            epoch: 2,
            members: [
              { handle: 'alice', identityKey: fill(32, 1) },
              { handle: 'bob', identityKey: fill(32, 2) },
            ],
          },
        ],
      ],
    ];
    // Record 10: the peer tag of the account a group's pairwise part is for, by Node's SHA-256.
    const tag = createHash('sha256')
      .update(utf8('Veil peer v1'))
      .update(utf8(vectors.records.recipientHandle))
      .digest()
      .subarray(0, 8);
    expect(bytesToHex(peerTag(vectors.records.recipientHandle))).toBe(bytesToHex(tag));
    cases.push([vectors.records.recipient, [{ type: 'recipient', tag: new Uint8Array(tag) }]]);
    for (const [hex, records] of cases) {
      expect(bytesToHex(encodePlaintext(records))).toBe(hex);
      expect(decodePlaintext(hexToBytes(hex))).toEqual(records);
    }
  });

  it('member-list digest: SHA-256 over handle || 0x00 || key, in handle order', () => {
    const v = vectors.membersDigest;
    const h = createHash('sha256');
    for (const [handle, key] of v.members)
      h.update(utf8(handle!)).update(Buffer.of(0)).update(hexToBytes(key!));
    expect(h.digest('hex')).toBe(v.digest);
    const members = [...v.members]
      .reverse()
      .map(([handle, key]) => ({ handle: handle!, identityKey: hexToBytes(key!) }));
    expect(bytesToHex(membersDigest(members))).toBe(v.digest);
  });
});
