import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { api, ApiError } from './api.ts'

export interface Resource<T> {
  data: T | null
  error: ApiError | null
  loading: boolean
  /** When the data was last loaded successfully. */
  loadedAt: Date | null
  reload: () => void
  setData: (update: (old: T | null) => T | null) => void
}

/**
 * GET a path (null: nothing to load). Keeps showing the last data while reloading; with `everyMs`, reloads on
 * a timer while the tab is visible. An error replaces nothing: the panel shows both the error and the last data.
 */
export function useResource<T>(path: string | null, opts: { everyMs?: number } = {}): Resource<T> {
  const [data, setDataState] = useState<T | null>(null)
  const [error, setError] = useState<ApiError | null>(null)
  const [loading, setLoading] = useState(path !== null)
  const [loadedAt, setLoadedAt] = useState<Date | null>(null)
  const [nonce, setNonce] = useState(0)
  const pathRef = useRef(path)
  pathRef.current = path

  useEffect(() => {
    setDataState(null)
    setError(null)
  }, [path])

  useEffect(() => {
    if (path === null) {
      setLoading(false)
      return
    }
    const controller = new AbortController()
    setLoading(true)
    api<T>(path, { signal: controller.signal })
      .then((d) => {
        if (controller.signal.aborted) return
        setDataState(d)
        setError(null)
        setLoadedAt(new Date())
      })
      .catch((e: unknown) => {
        if (controller.signal.aborted || (e as Error).name === 'AbortError') return
        setError(e instanceof ApiError ? e : new ApiError(path, 0, { detail: String(e) }))
      })
      .finally(() => {
        if (!controller.signal.aborted) setLoading(false)
      })
    return () => controller.abort()
  }, [path, nonce])

  useEffect(() => {
    if (!opts.everyMs || path === null) return
    const t = setInterval(() => {
      if (document.visibilityState === 'visible') setNonce((n) => n + 1)
    }, opts.everyMs)
    return () => clearInterval(t)
  }, [path, opts.everyMs])

  const reload = useCallback(() => setNonce((n) => n + 1), [])
  const setData = useCallback((update: (old: T | null) => T | null) => setDataState((old) => update(old)), [])
  return { data, error, loading, loadedAt, reload, setData }
}

/** Runs an action, remembering whether it is busy and its last error (the API's problem detail). */
export function useAction() {
  const [busy, setBusy] = useState<string | null>(null)
  const [error, setError] = useState<ApiError | null>(null)
  const [done, setDone] = useState<string | null>(null)
  const run = useCallback(async <T,>(label: string, work: () => Promise<T>): Promise<T | undefined> => {
    setBusy(label)
    setError(null)
    setDone(null)
    try {
      const result = await work()
      setDone(label)
      return result
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError('', 0, { detail: String(e) }))
      return undefined
    } finally {
      setBusy(null)
    }
  }, [])
  return { busy, error, done, run, clear: () => { setError(null); setDone(null) } }
}

/** Re-renders every `ms` so relative times ("5 s ago") stay true. */
export function useTicker(ms: number) {
  const [, setTick] = useState(0)
  useEffect(() => {
    const t = setInterval(() => setTick((n) => n + 1), ms)
    return () => clearInterval(t)
  }, [ms])
}
