import type { CSSProperties, ReactNode, Ref } from 'react';

/**
 * A table's horizontal scroll container (tables scroll sideways on narrow screens, the page
 * does not). Named, so it is a landmark, and focusable, so a keyboard can scroll it.
 */
export function ScrollRegion({
  label,
  className,
  busy,
  children,
  ref,
  style,
}: {
  label: string;
  className?: string;
  busy?: boolean;
  children: ReactNode;
  /** The scrolling element, for a virtualizer that renders only the rows in view. */
  ref?: Ref<HTMLElement>;
  style?: CSSProperties;
}) {
  return (
    <section
      ref={ref}
      style={style}
      className={`table-scroll${className ? ` ${className}` : ''}`}
      aria-label={label}
      aria-busy={busy}
      // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must take focus to be scrolled by keyboard (WCAG 2.1.1)
      tabIndex={0}
    >
      {children}
    </section>
  );
}
