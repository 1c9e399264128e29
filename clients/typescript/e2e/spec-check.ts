// Checks every response the typed client receives against ../../openapi.yaml: the status must
// be one the operation lists, each header the response declares required must be there and
// every declared header that is there must match its schema, the content type must be one the
// spec gives for that status, and a JSON body (problem documents included) must validate
// against its schema with every `$ref` resolved. Anything else throws a `SpecMismatch` naming
// the route, the status and what the validator said, which fails the run.
//
// The spec is OpenAPI 3.0, whose schemas are almost JSON Schema draft 7: `nullable: true`
// becomes `anyOf: [schema, {type: null}]` (so `nullable` beside an `allOf` means what the spec
// means), `example` is dropped and the OpenAPI formats (`int64`, `binary`, ...) are defined.
// Validation is by Ajv in strict mode with ajv-formats' `date-time`, `date`, `email` and `uri`.

import { readFileSync } from "node:fs";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { fullFormats } from "ajv-formats/dist/formats.js";
import { parse } from "yaml";

/** A response that does not match the spec. */
export class SpecMismatch extends Error {
  constructor(route: string, status: number, what: string) {
    super(`${route} -> ${status}: ${what}`);
    this.name = "SpecMismatch";
  }
}

/** One checked response, for the summary. */
export interface Checked {
  operationId: string;
  method: string;
  path: string;
  status: number;
  contentType: string;
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function objectAt(value: unknown, what: string): JsonObject {
  if (!isObject(value)) throw new Error(`openapi.yaml: ${what} is not an object`);
  return value;
}

const SPEC_ID = "openapi.json";
const METHODS: readonly string[] = ["get", "put", "post", "delete", "patch", "head", "options"];

/** OpenAPI 3.0 schema → JSON Schema draft 7 (see the header). */
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!isObject(node)) return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    // `x-…` keys are OpenAPI's specification extensions (the problem codes' `x-status`): annotations
    // for readers, not validation keywords, which strict Ajv would refuse as unknown.
    if (key === "example" || key === "nullable" || key.startsWith("x-")) continue;
    if (key === "$ref" && typeof value === "string") {
      out[key] = value.replace(/^#\/components\/schemas\//, `${SPEC_ID}#/definitions/`);
    } else if (key === "properties" && isObject(value)) {
      // The keys here are field names, not keywords: keep every one.
      out[key] = Object.fromEntries(Object.entries(value).map(([name, schema]) => [name, toJsonSchema(schema)]));
    } else {
      out[key] = toJsonSchema(value);
    }
  }
  return node.nullable === true ? { anyOf: [out, { type: "null" }] } : out;
}

interface Operation {
  operationId: string;
  method: string;
  template: string;
  pattern: RegExp;
  params: number;
  responses: JsonObject;
}

export class OpenApiSpec {
  readonly checked: Checked[] = [];
  private readonly doc: JsonObject;
  private readonly operations: Operation[] = [];
  private readonly ajv: Ajv;
  private readonly validators = new Map<unknown, ValidateFunction>();

  constructor(path: string) {
    const parsed: unknown = parse(readFileSync(path, "utf8"));
    this.doc = objectAt(parsed, "the document");
    const schemas = objectAt(objectAt(this.doc.components, "components").schemas, "components.schemas");
    this.ajv = new Ajv({
      allErrors: true,
      strict: true,
      formats: {
        "date-time": fullFormats["date-time"],
        date: fullFormats.date,
        email: fullFormats.email,
        uri: fullFormats.uri,
        int32: { type: "number", validate: (n: number) => Number.isInteger(n) && Math.abs(n) <= 2 ** 31 },
        int64: { type: "number", validate: (n: number) => Number.isSafeInteger(n) },
        float: { type: "number", validate: () => true },
        double: { type: "number", validate: () => true },
        binary: true,
        byte: true,
      },
    });
    this.ajv.addSchema({ $id: SPEC_ID, definitions: toJsonSchema(schemas) });
    // Compile every schema now, so a schema Ajv's strict mode refuses fails at once, used or not.
    for (const name of Object.keys(schemas)) this.ajv.getSchema(`${SPEC_ID}#/definitions/${name}`);

    for (const [template, item] of Object.entries(objectAt(this.doc.paths, "paths"))) {
      const pathItem = objectAt(item, template);
      const names: string[] = [];
      const source = template
        .split(/(\{[^}]+\})/)
        .map((part) => {
          if (part.startsWith("{") && part.endsWith("}")) {
            names.push(part);
            return "([^/]+)";
          }
          return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        })
        .join("");
      for (const method of METHODS) {
        const op = pathItem[method];
        if (!isObject(op)) continue;
        this.operations.push({
          operationId: typeof op.operationId === "string" ? op.operationId : `${method} ${template}`,
          method: method.toUpperCase(),
          template,
          pattern: new RegExp(`^${source}$`),
          params: names.length,
          responses: objectAt(op.responses, `${method} ${template} responses`),
        });
      }
    }
    // `/orders/my` before `/orders/{id}`, `/admin/orders/export.csv` before `/admin/orders/{id}`.
    this.operations.sort((a, b) => a.params - b.params);
  }

  /** A fetch that checks each response (a clone of it) before handing it on. */
  fetch(baseUrl: string, inner: (request: Request) => Promise<Response> = (r) => globalThis.fetch(r)) {
    const base = new URL(baseUrl).pathname.replace(/\/+$/, "");
    return async (request: Request): Promise<Response> => {
      const response = await inner(request);
      const path = new URL(request.url).pathname;
      await this.check(request.method, path.startsWith(base) ? path.slice(base.length) : path, response.clone());
      return response;
    };
  }

  /** Throws a SpecMismatch unless `response` is what the spec says `method path` answers. */
  async check(method: string, path: string, response: Response): Promise<void> {
    const op = this.operations.find((o) => o.method === method && o.pattern.test(path));
    const route = op ? `${method} ${op.template} (${op.operationId})` : `${method} ${path}`;
    const fail = (what: string): never => {
      throw new SpecMismatch(route, response.status, what);
    };
    if (!op) return fail("no operation in openapi.yaml matches this method and path");

    const status = response.status;
    const declared =
      op.responses[String(status)] ?? op.responses[`${Math.floor(status / 100)}XX`] ?? op.responses.default;
    if (declared === undefined) {
      return fail(`the status is not among the operation's responses (${Object.keys(op.responses).join(", ")})`);
    }
    const spec = this.resolve(declared);

    // Headers: the required ones must be there; each declared one that is there must match.
    if (spec.headers !== undefined) {
      for (const [name, header] of Object.entries(objectAt(spec.headers, `${route} headers`))) {
        const h = this.resolve(header);
        const value = response.headers.get(name);
        if (value === null) {
          if (h.required === true) return fail(`the required header ${name} is missing`);
          continue;
        }
        const schema = objectAt(h.schema, `${route} header ${name} schema`);
        const typed = schema.type === "integer" || schema.type === "number" ? Number(value) : value;
        const errors = this.validate(schema, Number.isNaN(typed) ? value : typed);
        if (errors) return fail(`header ${name}: ${JSON.stringify(value)} ${errors}`);
      }
    }

    // Body: a content type the spec gives for this status, and a body its schema accepts.
    const contentType = (response.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
    const body = await response.arrayBuffer();
    if (spec.content === undefined) {
      if (body.byteLength > 0) return fail(`the spec gives no body, but ${body.byteLength} bytes came`);
    } else {
      const content = objectAt(spec.content, `${route} content`);
      const media = content[contentType];
      if (media === undefined) {
        return fail(`content-type ${JSON.stringify(contentType)}, the spec gives ${Object.keys(content).join(", ")}`);
      }
      const schema = objectAt(objectAt(media, `${route} ${contentType}`).schema, `${route} ${contentType} schema`);
      const text = new TextDecoder().decode(body);
      if (contentType === "application/json" || contentType.endsWith("+json")) {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch (e) {
          return fail(`the body is not JSON (${e instanceof Error ? e.message : String(e)}): ${text.slice(0, 200)}`);
        }
        const errors = this.validate(schema, json);
        if (errors) return fail(`body ${errors}\n  body: ${text.slice(0, 2000)}`);
      } else if (contentType === "application/pdf") {
        if (!text.startsWith("%PDF-")) return fail("an application/pdf body that does not start with %PDF-");
      } else {
        const errors = this.validate(schema, text);
        if (errors) return fail(`body ${errors}`);
      }
    }
    this.checked.push({ operationId: op.operationId, method, path, status, contentType });
  }

  /** Follows `$ref`s within openapi.yaml (`#/components/...`). */
  private resolve(node: unknown): JsonObject {
    let current = objectAt(node, "a response or header");
    for (let hops = 0; typeof current.$ref === "string"; hops++) {
      const ref = current.$ref;
      if (!ref.startsWith("#/") || hops > 10) throw new Error(`openapi.yaml: cannot follow $ref ${ref}`);
      let target: unknown = this.doc;
      for (const part of ref.slice(2).split("/")) {
        target = objectAt(target, ref)[part.replace(/~1/g, "/").replace(/~0/g, "~")];
      }
      current = objectAt(target, ref);
    }
    return current;
  }

  /** Ajv's message for `value` against a spec schema, or null when it validates. */
  private validate(schema: JsonObject, value: unknown): string | null {
    let validator = this.validators.get(schema);
    if (!validator) {
      const converted = toJsonSchema(schema);
      validator = this.ajv.compile(objectAt(converted, "a schema"));
      this.validators.set(schema, validator);
    }
    if (validator(value)) return null;
    return describe(validator.errors ?? []);
  }
}

function describe(errors: ErrorObject[]): string {
  return errors
    .map((e) => `${e.instancePath || "(root)"} ${e.message ?? "is invalid"}${e.params ? ` ${JSON.stringify(e.params)}` : ""}`)
    .join("; ");
}
