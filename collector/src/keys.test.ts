import { programKey } from '../../analytics/index.ts'
import { describe, expect, it } from 'vitest'
import { KeyIndex, originMatcher } from './keys.ts'

describe('originMatcher', () => {
  it('matches scheme, host and port exactly, with wildcards where written', () => {
    const exact = originMatcher('https://care.example')
    expect(exact('https://care.example')).toBe(true)
    expect(exact('https://care.example:443')).toBe(true)
    expect(exact('http://care.example')).toBe(false)
    expect(exact('https://care.example:8443')).toBe(false)
    expect(exact('https://evil-care.example')).toBe(false)
    const sub = originMatcher('https://*.care.example')
    expect(sub('https://www.care.example')).toBe(true)
    expect(sub('https://care.example')).toBe(false)
    expect(sub('https://care.example.evil.test')).toBe(false)
    const loop = originMatcher('http://localhost:*')
    expect(loop('http://localhost:5173')).toBe(true)
    expect(loop('http://localhost')).toBe(true)
    expect(loop('http://localhost.evil.test:80')).toBe(false)
    expect(originMatcher('http://[::1]:*')('http://[::1]:3000')).toBe(true)
    expect(exact('null')).toBe(false)
  })
})

describe('KeyIndex', () => {
  const index = new KeyIndex([
    programKey({ program: 'a', kind: 'write', id: 'w', key: 'pk_a', origins: ['https://a.example'], channel: 'web' }),
    programKey({ program: 'b', kind: 'write', id: 'w', key: 'pk_b', origins: ['https://b.example'], channel: 'web' }),
    programKey({ program: 'a', kind: 'secret', id: 's', key: 'sk_a', origins: [], channel: 'server' }),
  ])
  it('finds keys and checks origins per key', () => {
    expect(index.find('sk_a')?.program).toBe('a')
    expect(index.find('pk_c')).toBeUndefined()
    expect(index.originAllowed('pk_a', 'https://a.example')).toBe(true)
    expect(index.originAllowed('pk_a', 'https://b.example')).toBe(false)
    expect(index.anyKeyAllows('https://b.example')).toBe(true)
    expect(index.anyKeyAllows('https://c.example')).toBe(false)
    // Remembered answers stay per key: the same origin asked again, and for another key.
    for (let i = 0; i < 3; i++) {
      expect(index.originAllowed('pk_a', 'https://a.example')).toBe(true)
      expect(index.originAllowed('pk_b', 'https://a.example')).toBe(false)
      expect(index.originAllowed('pk_zzz', 'https://a.example')).toBe(false)
      expect(index.anyKeyAllows('https://c.example')).toBe(false)
    }
  })

  it('forgets the old keys and remembered origin answers when replaced', () => {
    const changing = new KeyIndex([programKey({ program: 'a', kind: 'write', id: 'w', key: 'pk_a', origins: ['https://a.example'], channel: 'web' })])
    expect(changing.originAllowed('pk_a', 'https://a.example')).toBe(true)
    expect(changing.anyKeyAllows('https://new.example')).toBe(false)
    changing.replace([programKey({ program: 'a', kind: 'write', id: 'w2', key: 'pk_a2', origins: ['https://new.example'], channel: 'web' })])
    expect(changing.find('pk_a')).toBeUndefined()
    expect(changing.originAllowed('pk_a', 'https://a.example')).toBe(false)
    expect(changing.find('pk_a2')?.id).toBe('w2')
    expect(changing.anyKeyAllows('https://new.example')).toBe(true)
    expect(changing.anyKeyAllows('https://a.example')).toBe(false)
  })
})
