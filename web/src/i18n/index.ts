import { createI18n } from 'vue-i18n'
import zh from './zh-CN'
import en from './en'

export type Locale = 'zh-CN' | 'en'
const KEY = 'inkstone.locale'

export function initialLocale(): Locale {
  try {
    const saved = localStorage.getItem(KEY)
    if (saved === 'en' || saved === 'zh-CN') return saved
  } catch {
    // storage disabled
  }
  return 'zh-CN'
}

export const i18n = createI18n({
  legacy: false,
  locale: initialLocale(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zh, en },
})

export function setLocale(l: Locale): void {
  i18n.global.locale.value = l
  document.documentElement.lang = l
  try {
    localStorage.setItem(KEY, l)
  } catch {
    // storage disabled: the choice lasts for this page only
  }
}

export { zh, en }
