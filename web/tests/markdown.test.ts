import { describe, expect, it } from 'vitest'
import { renderMarkdown } from '../src/lib/markdown'

describe('renderMarkdown', () => {
  it('escapes every HTML tag in model output', () => {
    const html = renderMarkdown('hi <script>alert(1)</script> <img src=x onerror=alert(1)> <b>bold</b>')
    expect(html).not.toMatch(/<script|<img|<b>/)
    expect(html).toContain('&lt;script&gt;')
  })
  it('renders markdown structure', () => {
    const html = renderMarkdown('# 标题\n\n**重点** and `code`')
    expect(html).toContain('<h1>标题</h1>')
    expect(html).toContain('<strong>重点</strong>')
    expect(html).toContain('<code>code</code>')
  })
  it('links only http(s) and mailto, in a new tab without referrer; no images', () => {
    expect(renderMarkdown('[x](javascript:alert(1))')).not.toContain('href')
    expect(renderMarkdown('[x](data:text/html,hi)')).not.toContain('href')
    const ok = renderMarkdown('[x](https://example.com)')
    expect(ok).toContain('href="https://example.com"')
    expect(ok).toContain('rel="noopener noreferrer nofollow"')
    expect(renderMarkdown('![t](https://example.com/a.png)')).not.toContain('<img')
  })
})
