/** Reading lists: format and delimiter detection, quoted fields, malformed rows, caps, chunking. */
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { parse } from 'csv-parse/sync';
import fc from 'fast-check';

import { InputError, MAX_LINE_CHARS, openInput, type InputRow } from '../../../src/jobs/index.js';
import {
  CUT_MARK,
  KEPT_LINE_CHARS,
  looseFields,
  detectDelimiter,
  parseFields,
} from '../../../src/jobs/read-input.js';

async function read(
  text: string,
  options: { column?: string; chunk?: number } = {},
): Promise<{ layout: Awaited<ReturnType<typeof openInput>>['layout']; rows: InputRow[] }> {
  return readBytes(Buffer.from(text, 'utf8'), options.chunk ?? text.length + 1, options.column);
}

async function readBytes(
  bytes: Buffer,
  size: number,
  column?: string,
): Promise<{ layout: Awaited<ReturnType<typeof openInput>>['layout']; rows: InputRow[] }> {
  async function* chunks() {
    await Promise.resolve();
    for (let index = 0; index < bytes.length; index += size) yield bytes.subarray(index, index + size);
  }
  const opened = await openInput(chunks(), column === undefined ? {} : { column });
  const rows: InputRow[] = [];
  for await (const row of opened.rows) rows.push(row);
  return { layout: opened.layout, rows };
}

describe('detectDelimiter', () => {
  const cases: [string, string[], string | null][] = [
    ['comma', ['email,name', 'a@x.test,A'], ','],
    ['semicolon (a French Excel export)', ['email;name', 'a@x.test;"Smith, A"'], ';'],
    ['tab', ['email\tname\tcity', 'a@x.test\tA\tParis'], '\t'],
    ['pipe', ['email|name', 'a@x.test|A'], '|'],
    ['commas inside quotes do not count', ['"Smith, A";email', '"Jones, B";b@x.test'], ';'],
    ['the consistent one wins', ['email;name,first', 'a@x.test;A', 'b@x.test;B'], ';'],
    ['none', ['a@x.test', 'b@x.test'], null],
  ];
  for (const [name, lines, expected] of cases) {
    it(name, () => {
      assert.equal(detectDelimiter(lines), expected);
    });
  }
});

describe('openInput', () => {
  it('reads a ; CSV with quoted fields (delimiters, doubled quotes, a line break) and finds the column', async () => {
    const text =
      'Name;E-Mail;Note\r\n"Smith; Alice";alice@x.test;"said ""hi"""\r\nBob; bob@x.test ;"two\r\nlines"\r\nCarol;carol@x.test;\r\n';
    for (const chunk of [1, 3, 1000]) {
      const { layout, rows } = await read(text, { chunk });
      assert.deepEqual(layout, {
        format: 'csv',
        delimiter: ';',
        columns: ['Name', 'E-Mail', 'Note'],
        addressColumn: 1,
        headerless: false,
      });
      assert.deepEqual(
        rows.map((r) => [r.row, r.line, r.input, r.fields, r.error]),
        [
          [1, 2, 'alice@x.test', ['Smith; Alice', 'alice@x.test', 'said "hi"'], null],
          [2, 3, 'bob@x.test', ['Bob', ' bob@x.test ', 'two\nlines'], null],
          [3, 5, 'carol@x.test', ['Carol', 'carol@x.test', ''], null],
        ],
        `chunk ${chunk}`,
      );
    }
  });

  it('finds the address column by --column, case-insensitively', async () => {
    const { layout, rows } = await read('id,work,home\n1,a@x.test,b@y.test\n', { column: 'HOME' });
    assert.equal(layout.addressColumn, 2);
    assert.equal(rows[0]?.input, 'b@y.test');
  });

  it('names the other address columns when it found one: numbered names and columns of addresses, not a postal Address', async () => {
    const others = async (text: string, column?: string) =>
      (await openInput([text], column === undefined ? {} : { column })).otherAddressColumns;
    const outlook = 'Name,E-mail Address,E-mail 2 Address,E-mail 3 Address\nAlice,a@x.test,,\n';
    assert.deepEqual(await others(outlook), ['E-mail 2 Address', 'E-mail 3 Address']);
    assert.deepEqual(await others(outlook, 'E-mail 2 Address'), []);
    assert.deepEqual(await others('Name,Email,Address\nAlice,a@x.test,1 Main St\n'), []);
    assert.deepEqual(await others('Email,Manager\na@x.test,b@x.test\n'), ['Manager']);
    assert.deepEqual(await others('a@x.test,b@x.test\n'), ['column2']);
  });

  it('refuses an unknown --column and a header without an address column', async () => {
    await assert.rejects(read('id,work\n1,a@x.test\n', { column: 'mail' }), InputError);
    await assert.rejects(read('id,name\n1,Alice\n'), /no address column in the header \(id, name\)/);
  });

  it('reads a CSV without a header when its first line holds an address', async () => {
    const { layout, rows } = await read('Alice,alice@x.test\nBob,bob@x.test\n');
    assert.equal(layout.headerless, true);
    assert.deepEqual(layout.columns, ['column1', 'column2']);
    assert.deepEqual(
      rows.map((r) => r.input),
      ['alice@x.test', 'bob@x.test'],
    );
  });

  it('reads a plain list, skipping blank lines, keeping invalid lines as rows', async () => {
    const { layout, rows } = await read(
      '\ufeffalice@x.test\n\n  bob@x.test  \nnot an address\r\nlast@x.test',
    );
    assert.equal(layout.format, 'list');
    assert.deepEqual(
      rows.map((r) => [r.row, r.line, r.input]),
      [
        [1, 1, 'alice@x.test'],
        [2, 3, 'bob@x.test'],
        [3, 4, 'not an address'],
        [4, 5, 'last@x.test'],
      ],
    );
  });

  it('takes a one-column file headed "email" as a CSV with a header', async () => {
    const { layout, rows } = await read('Email\na@x.test\n');
    assert.equal(layout.format, 'csv');
    assert.deepEqual(
      rows.map((r) => r.input),
      ['a@x.test'],
    );
  });

  it('reports a malformed row with its line number and reads the rest', async () => {
    const text = 'email,name\na@x.test,A\n"b@x.test"junk,B\nc@x.test,C\n"d@x.test,never closed\ne@x.test,E\n';
    const { rows } = await read(text);
    assert.deepEqual(
      rows.map((r) => [r.row, r.line, r.input, r.fields, r.error === null ? null : r.error.slice(0, 8)]),
      [
        [1, 2, 'a@x.test', ['a@x.test', 'A'], null],
        // An unreadable row keeps its text: its fields as written when they split as the header's…
        [2, 3, '"b@x.test"junk', ['"b@x.test"junk', 'B'], 'line 3: '],
        [3, 4, 'c@x.test', ['c@x.test', 'C'], null],
        // … else the whole line as its address.
        [4, 5, '"d@x.test,never closed', null, 'line 5: '],
        [5, 6, 'e@x.test', ['e@x.test', 'E'], null],
      ],
    );
    assert.match(rows[3]?.error ?? '', /unterminated quoted field/);
  });

  it('an address that is not UTF-8 (a Latin-1 export) is an unreadable row, not a mangled address', async () => {
    // jérôme in Windows-1252: é and ô are single bytes that UTF-8 cannot read.
    const latin1 = Buffer.from(
      'email,name\nj\xe9r\xf4me@x.test,J\xe9r\xf4me\nann@x.test,Ren\xe9e\n',
      'latin1',
    );
    const opened = await openInput([latin1]);
    const rows: InputRow[] = [];
    for await (const row of opened.rows) rows.push(row);
    assert.equal(rows.length, 2);
    assert.match(rows[0]?.error ?? '', /^line 2: the address is not UTF-8 .*save the file as CSV UTF-8/);
    assert.deepEqual(rows[0]?.fields, ['j\ufffdr\ufffdme@x.test', 'J\ufffdr\ufffdme']);
    // Only the address decides: a name in Latin-1 beside a plain address is verified.
    assert.deepEqual([rows[1]?.input, rows[1]?.error], ['ann@x.test', null]);
    const list = await openInput([Buffer.from('bob@x.test\nd\xfcrer@x.test\n', 'latin1')]);
    const listRows: InputRow[] = [];
    for await (const row of list.rows) listRows.push(row);
    assert.deepEqual(
      listRows.map((row) => row.error?.slice(0, 35) ?? null),
      [null, 'line 2: the address is not UTF-8 (a'],
    );
    // U+FFFD only from bytes that were not UTF-8: é written in UTF-8 reads as é.
    const { rows: utf8 } = await read('email\njérôme@x.test\n');
    assert.deepEqual([utf8[0]?.input, utf8[0]?.error], ['jérôme@x.test', null]);
  });

  it('looseFields() splits a refused record as written', () => {
    assert.deepEqual(looseFields('2,"bob@x.test"junk,precious notes', ','), [
      '2',
      '"bob@x.test"junk',
      'precious notes',
    ]);
    assert.deepEqual(looseFields('"a;b";"say ""hi""";x"y', ';'), ['a;b', 'say "hi"', 'x"y']);
  });

  it('caps a huge line: unreadable, its start kept and marked cut, its length named, the next lines read', async () => {
    const huge = `${'x'.repeat(MAX_LINE_CHARS * 3)}@x.test,H`;
    const error = `line 3: ${huge.length.toLocaleString('en-US')} characters, longer than ${MAX_LINE_CHARS.toLocaleString('en-US')}; its first ${KEPT_LINE_CHARS.toLocaleString('en-US')} are kept`;
    const kept = `${'x'.repeat(KEPT_LINE_CHARS)}${CUT_MARK}`;
    // Chunks smaller than the cap (the cut comes at a chunk's end) and larger (within one chunk).
    for (const chunk of [4096, 1_000_000]) {
      const { rows } = await read(`email,name\na@x.test,A\n${huge}\r\nb@x.test,B\n`, { chunk });
      assert.deepEqual(
        rows.map((r) => [r.line, r.input, r.fields, r.error]),
        [
          [2, 'a@x.test', ['a@x.test', 'A'], null],
          [3, kept, null, error],
          [4, 'b@x.test', ['b@x.test', 'B'], null],
        ],
      );
      // A plain list, and an over-long last line without a line break.
      const list = await read(`a@x.test\nb@x.test\n${huge}`, { chunk });
      assert.deepEqual(
        list.rows.map((r) => [r.line, r.input, r.error]),
        [
          [1, 'a@x.test', null],
          [2, 'b@x.test', null],
          [3, kept, error],
        ],
      );
    }
  });

  it('reads a line of 256 MiB in bounded memory (a child process with a 64 MB heap)', () => {
    // Were the line held whole (256 Mi one-byte characters), the child would run out of heap and die.
    const script = `
      import { openInput } from './src/jobs/index.ts';
      const chunk = Buffer.alloc(1 << 20, 0x78);
      async function* source() {
        yield Buffer.from('email,name\\na@x.test,A\\n');
        for (let i = 0; i < 256; i++) yield chunk;
        yield Buffer.from('\\nb@x.test,B\\n');
      }
      const { rows } = await openInput(source());
      for await (const row of rows) console.log(JSON.stringify([row.line, row.input.length, row.error]));
    `;
    const child = spawnSync(
      process.execPath,
      ['--max-old-space-size=64', '--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: new URL('../../..', import.meta.url), encoding: 'utf8' },
    );
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(
      child.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown),
      [
        [2, 8, null],
        [
          3,
          KEPT_LINE_CHARS + CUT_MARK.length,
          `line 3: 268,435,456 characters, longer than 65,536; its first 4,096 are kept`,
        ],
        [4, 8, null],
      ],
    );
  });

  it('decodes UTF-8 split across chunks', async () => {
    const { rows } = await read('email\nüser@exämple.test\n', { chunk: 1 });
    assert.equal(rows[0]?.input, 'üser@exämple.test');
  });

  it('ends a line at a lone CR too (classic Mac, Excel for Mac "CSV (Macintosh)"), and at CRLF split across chunks', async () => {
    const expected = [
      ['alice@x.test', 'A', 2],
      ['bob@x.test', 'B', 3],
      ['carol@x.test', 'C', 4],
      ['dave@x.test', 'D', 6],
    ];
    const texts = [
      'email,name\ralice@x.test,A\rbob@x.test,B\rcarol@x.test,C\r\rdave@x.test,D\r',
      'email,name\r\nalice@x.test,A\nbob@x.test,B\rcarol@x.test,C\r\n\ndave@x.test,D',
    ];
    for (const text of texts) {
      for (const chunk of [1, 2, 5, 1000]) {
        const { layout, rows } = await read(text, { chunk });
        assert.deepEqual(layout.columns, ['email', 'name'], `${JSON.stringify(text)} in chunks of ${chunk}`);
        assert.deepEqual(
          rows.map((row) => [row.input, row.fields?.[1], row.line]),
          expected,
          `${JSON.stringify(text)} in chunks of ${chunk}`,
        );
      }
    }
  });

  it('reads a UTF-16 export by its byte-order mark (Excel\'s "Unicode Text", PowerShell 5)', async () => {
    const text = 'email\tname\r\nalice@x.test\tZoë\r\nbob@x.test\tBob\r\n';
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const be = Buffer.from(le);
    be.swap16();
    for (const bytes of [le, be]) {
      for (const chunk of [1, 3, 1000]) {
        const { layout, rows } = await readBytes(bytes, chunk);
        assert.deepEqual(layout.columns, ['email', 'name']);
        assert.deepEqual(
          rows.map((row) => [row.input, row.fields?.[1], row.error]),
          [
            ['alice@x.test', 'Zoë', null],
            ['bob@x.test', 'Bob', null],
          ],
        );
      }
    }
  });

  it('reads the encoding it is told (a Content-Type charset), else says it cannot', async () => {
    const latin1 = Buffer.from('email;nom\nj\xe9r\xf4me@x.test;J\xe9r\xf4me\n', 'latin1');
    const opened = await openInput([latin1], { encoding: 'windows-1252' });
    const rows: InputRow[] = [];
    for await (const row of opened.rows) rows.push(row);
    assert.deepEqual(
      rows.map((row) => [row.input, row.fields?.[1], row.error]),
      [['jérôme@x.test', 'Jérôme', null]],
    );
    assert.equal(opened.notUtf8, null);
    await assert.rejects(openInput([latin1], { encoding: 'klingon' }), (error: unknown) => {
      assert.ok(error instanceof InputError);
      assert.match(error.message, /^charset klingon is not an encoding rcpt can read/);
      return true;
    });
  });

  it('names a workbook, an archive or a PDF given instead of a list, and what to do', async () => {
    const cases: [string, Buffer, RegExp][] = [
      [
        'xlsx',
        Buffer.from('PK\x03\x04\x14\x00\x06\x00[Content_Types].xml', 'latin1'),
        /an Excel or LibreOffice workbook \(\.xlsx, \.ods: a ZIP archive\), not a CSV: open it there and save it as "CSV UTF-8"/,
      ],
      [
        'xls',
        Buffer.from('\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00', 'latin1'),
        /an Excel 97-2003 workbook \(\.xls\), not a CSV: open it in Excel and save it as "CSV UTF-8"/,
      ],
      [
        'gzip',
        Buffer.from('\x1f\x8b\x08\x00\x00\x00\x00\x00', 'latin1'),
        /compressed with gzip: decompress it first \(zcat\)/,
      ],
      [
        'pdf',
        Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n', 'latin1'),
        /a PDF document, not a CSV: export the list from where it was made as "CSV UTF-8"/,
      ],
    ];
    for (const [name, bytes, message] of cases) {
      for (const chunk of [1, 1000]) {
        await assert.rejects(readBytes(bytes, chunk), (error: unknown) => {
          assert.ok(error instanceof InputError, name);
          assert.match(error.message, message, name);
          return true;
        });
      }
    }
  });

  it('reads an empty input as an empty list', async () => {
    const { layout, rows } = await read('');
    assert.equal(layout.format, 'list');
    assert.equal(rows.length, 0);
  });
});

describe('parseFields', () => {
  it('splits RFC 4180 fields and refuses what a reader cannot guess', () => {
    assert.deepEqual(parseFields('a;"b;""c""";', ';'), ['a', 'b;"c"', '']);
    assert.deepEqual(parseFields('"x\ny",z', ','), ['x\ny', 'z']);
    assert.deepEqual(parseFields('', ','), ['']);
    assert.throws(() => parseFields('"a"b,c', ','), /text after a closing quote at column 4/);
    assert.throws(() => parseFields('"a,b', ','), /unterminated quoted field/);
    assert.throws(() => parseFields('O"Brien,c', ','), /a quote inside an unquoted field/);
  });

  it('agrees with csv-parse on seeded random well-formed records', () => {
    const alphabet = ['a', 'b', '@', '.', ' ', '"', ',', ';', '\t', '|', '\n', 'é', '\u{1F600}'];
    fc.assert(
      fc.property(
        fc.constantFrom(',', ';', '\t', '|'),
        fc.array(
          fc.array(fc.constantFrom(...alphabet), { maxLength: 8 }).map((chars) => chars.join('')),
          {
            minLength: 1,
            maxLength: 6,
          },
        ),
        fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
        (delimiter, values, quoteAnyway) => {
          const text = values
            .map((value, index) =>
              quoteAnyway[index] === true || /["\n,;\t|]/.test(value)
                ? `"${value.replace(/"/g, '""')}"`
                : value,
            )
            .join(delimiter);
          const expected: string[][] = parse(text, {
            delimiter,
            relax_column_count: true,
            record_delimiter: ['\r\n', '\n'],
          });
          // csv-parse reads an empty text as no record; one empty field is ours.
          assert.deepEqual(parseFields(text, delimiter), expected[0] ?? ['']);
          assert.deepEqual(parseFields(text, delimiter), values);
        },
      ),
      { seed: 6, numRuns: 2_000 },
    );
  });
});
