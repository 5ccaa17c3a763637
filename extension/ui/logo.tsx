// Veil's mark: a rounded shield with a veil line, drawn inline (no external image).
export function Logo({ size = 22 }: { size?: number }) {
  return (
    <svg class="logo" width={size} height={size} viewBox="0 0 24 24" aria-hidden="true">
      <path d="M12 2.5 4 5.5v6c0 4.6 3.3 8.6 8 10 4.7-1.4 8-5.4 8-10v-6z" fill="var(--accent)" />
      <path
        d="M7.5 10.5c1.5 1.6 3 2.4 4.5 2.4s3-.8 4.5-2.4"
        fill="none"
        stroke="var(--on-accent)"
        stroke-width="1.8"
        stroke-linecap="round"
      />
    </svg>
  );
}
