import { defineStore } from 'pinia'
import { ref } from 'vue'
import { api } from '../api'
import type { CreditPackage, MembershipPlan, ModelInfo, WritingTool } from '../api/types'

/** Public lists that change only when an operator edits them: loaded once per page load. */
export const useCatalog = defineStore('catalog', () => {
  const models = ref<ModelInfo[]>([])
  const tools = ref<WritingTool[]>([])
  const packages = ref<CreditPackage[]>([])
  const plans = ref<MembershipPlan[]>([])
  let loaded: Promise<void> | null = null

  function load(): Promise<void> {
    loaded ??= Promise.all([api.models(), api.tools(), api.prices(), api.plans()])
      .then(([m, t, p, pl]) => {
        models.value = m.items
        tools.value = t.items
        packages.value = p.items
        plans.value = pl.items
      })
      .catch((e) => {
        loaded = null
        throw e
      })
    return loaded
  }

  return { models, tools, packages, plans, load }
})
