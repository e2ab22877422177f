// English names for the writing tools seeded by sql/003_generation.sql. The server's own
// (Chinese) name is shown in zh-CN, and for any tool an operator adds later in either language.
export const TOOL_NAMES_EN: Record<string, { name: string; description: string }> = {
  article: { name: 'Article', description: 'A complete, well-structured article on a topic' },
  title: { name: 'Headlines', description: 'Several catchy titles for your content' },
  summary: { name: 'Summary', description: 'The key points of a text' },
  polish: { name: 'Polish', description: 'Better wording, same meaning' },
  translate: { name: 'Translate', description: 'Chinese ⇄ English' },
  xiaohongshu: { name: 'Xiaohongshu post', description: 'A RED-style product recommendation note' },
  marketing: { name: 'Marketing copy', description: 'Promotion and advertising copy' },
}

export function toolName(locale: string, tool: { tool_type: string; name: string }): string {
  return (locale === 'en' && TOOL_NAMES_EN[tool.tool_type]?.name) || tool.name
}
export function toolDescription(locale: string, tool: { tool_type: string; description: string }): string {
  return (locale === 'en' && TOOL_NAMES_EN[tool.tool_type]?.description) || tool.description
}
