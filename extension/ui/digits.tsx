// Fingerprint halves (30 digits, 6 groups) and safety numbers (60 digits, 12 groups) laid out
// in a grid; the text keeps a space between groups so copying and screen readers get them apart.
import { Fragment } from 'preact';
import { digitGroups } from './format';

function DigitGrid(props: { digits: string; class: string; hook: string }) {
  const groups = digitGroups(props.digits);
  return (
    <p class={`digits ${props.class}`} data-veil={props.hook}>
      {groups.map((group, i) => (
        <Fragment key={i}>
          {i > 0 && ' '}
          <span class="digit-group">{group}</span>
        </Fragment>
      ))}
    </p>
  );
}

/** Our (or a contact's) 30-digit half: what the directory shows for a handle. */
export function FingerprintHalf({ digits }: { digits: string }) {
  return <DigitGrid digits={digits} class="fingerprint" hook="fingerprint" />;
}

/** The 60-digit safety number of a conversation, as 12 groups of 5. */
export function SafetyNumber({ digits }: { digits: string }) {
  return <DigitGrid digits={digits} class="safety-number" hook="safety-number" />;
}
