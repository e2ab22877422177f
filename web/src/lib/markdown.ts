import MarkdownIt from 'markdown-it'

// Model output is untrusted text. markdown-it with `html: false` escapes every tag in it
// (`<script>`, `<img onerror>`), so the rendered string holds only the markup markdown-it
// itself makes. Images are turned off (a model could otherwise make the browser fetch any
// URL), and links are limited to http(s) and mailto, opened in a new tab without a referrer.
const md = new MarkdownIt({ html: false, linkify: true, breaks: true, typographer: false })
md.disable(['image'])

const SAFE_LINK = /^(https?:|mailto:)/i
md.validateLink = (url: string) => SAFE_LINK.test(url.trim())

const defaultLinkOpen =
  md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options))
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  tokens[idx].attrSet('target', '_blank')
  tokens[idx].attrSet('rel', 'noopener noreferrer nofollow')
  return defaultLinkOpen(tokens, idx, options, env, self)
}

export function renderMarkdown(text: string): string {
  return md.render(text)
}

/** Plain text for the .txt export and copying: the model's text as written. */
export function exportName(prefix: string, ext: 'md' | 'txt', now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0')
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}`
  return `${prefix}-${stamp}.${ext}`
}

export function download(filename: string, text: string, mime: string): void {
  const blob = new Blob([text], { type: `${mime};charset=utf-8` })
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}

export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    // Clipboard API refused (no permission, not a secure context): the old way.
    const ta = document.createElement('textarea')
    ta.value = text
    ta.setAttribute('readonly', '')
    ta.style.position = 'fixed'
    ta.style.opacity = '0'
    document.body.appendChild(ta)
    ta.select()
    const ok = document.execCommand('copy')
    ta.remove()
    return ok
  }
}
