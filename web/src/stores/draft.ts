import { defineStore } from 'pinia'
import { ref } from 'vue'

/** "Run again" from History: the writing page picks this up once. */
export const useDraft = defineStore('draft', () => {
  const draft = ref<{ tool_type: string | null; model: string; prompt: string } | null>(null)
  function take() {
    const d = draft.value
    draft.value = null
    return d
  }
  return { draft, take }
})
