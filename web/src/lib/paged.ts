import { onMounted, ref, watch, type Ref, type WatchSource } from 'vue'
import type { Page } from '../api/types'
import { toastError } from './errors'

/**
 * One paged API list for a page: the current page, its items and total, a loading flag, and
 * `load()`. It loads on mount and whenever the page changes; a change of any `filters` goes
 * back to page 1 and loads again. A failed load is shown as a toast and keeps the last items.
 */
export function usePagedList<T>(
  fetch: (page: number, pageSize: number) => Promise<Page<T>>,
  pageSize: number,
  filters: WatchSource[] = [],
) {
  const page = ref(1)
  const items = ref([]) as Ref<T[]>
  const total = ref(0)
  const loading = ref(false)

  async function load(): Promise<void> {
    loading.value = true
    try {
      const r = await fetch(page.value, pageSize)
      items.value = r.items
      total.value = r.total
    } catch (e) {
      toastError(e)
    } finally {
      loading.value = false
    }
  }
  if (filters.length > 0) {
    watch(filters, () => {
      page.value = 1
      void load()
    })
  }
  watch(page, load)
  onMounted(load)
  return { page, pageSize, items, total, loading, load }
}
