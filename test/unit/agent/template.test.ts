import { describe, expect, it } from 'vitest';
import { compileTemplate, renderTemplate } from '../../../lambdas/agent/template.ts';

const context = {
  secret: (ref: { name: string; field?: string; stage: string }) => `<${ref.name}|${ref.field ?? ''}|${ref.stage}>`,
  env: (name: string) => (name === 'HOME' ? '/home/app' : undefined),
};

const render = (source: string) => renderTemplate(compileTemplate(source, 't'), context);

describe('Function: compileTemplate', () => {
  it('passes text through and replaces secret and env actions', () => {
    expect(render('a={{ secret "prod/db" }}\nb={{secret "prod/db" "password"}} h={{ env "HOME" }}')).toBe(
      'a=<prod/db||AWSCURRENT>\nb=<prod/db|password|AWSCURRENT> h=/home/app',
    );
  });

  it('reads another staging label with stage=', () => {
    expect(render('{{ secret "prod/db" "password" stage="AWSPREVIOUS" }}')).toBe('<prod/db|password|AWSPREVIOUS>');
  });

  it('renders an unset environment variable as empty', () => {
    expect(render('[{{ env "NOPE_NOT_SET" }}]')).toBe('[]');
  });

  it('writes string literals verbatim, so literal braces are possible', () => {
    expect(render('{{ "{{" }} x }}')).toBe('{{ x }}');
    expect(render('{{ "a\\"b\\n" }}')).toBe('a"b\n');
  });

  it('drops comments', () => {
    expect(render('a{{/* note */}}b')).toBe('ab');
  });

  it('lists each secret it reads once, for fetching and version checks', () => {
    const compiled = compileTemplate(
      '{{ secret "a" "x" }}{{ secret "a" "x" }}{{ secret "a" "y" }}{{ secret "b" stage="S" }}',
      't',
    );
    expect(compiled.secrets).toEqual([
      { name: 'a', stage: 'AWSCURRENT', field: 'x' },
      { name: 'a', stage: 'AWSCURRENT', field: 'y' },
      { name: 'b', stage: 'S' },
    ]);
  });

  it('rejects unknown functions, with line and column', () => {
    expect(() => compileTemplate('ok\n  {{ exec "rm -rf /" }}', 'db.tpl')).toThrow(
      /db\.tpl:2:6: unknown function "exec"/,
    );
  });

  it.each([
    ['{{ secret "a"', /never closed/],
    ['{{ }}', /empty action/],
    ['{{ secret }}', /secret takes a name/],
    ['{{ secret "a" "b" "c" }}', /secret takes a name/],
    ['{{ secret a }}', /arguments are double-quoted strings/],
    ['{{ secret "" }}', /empty secret name/],
    ['{{ env "A" "B" }}', /env takes one name/],
    ['{{ env "A" stage="x" }}', /unknown option stage=/],
    ['{{ secret "a" foo="x" }}', /unknown option foo=/],
    ['{{ "unterminated }}', /never closed|unterminated/],
    ['{{ secret "a" {{ "b" }}', /never closed/],
    ['{{ secret "a" | shell }}', /unexpected "\|"/],
  ])('rejects %s', (source, error) => {
    expect(() => compileTemplate(source, 't')).toThrow(error);
  });

  it('keeps "}}" inside a string literal', () => {
    expect(render('{{ "}}" }}')).toBe('}}');
  });
});
