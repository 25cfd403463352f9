// The public offer of both APIs never drifts from schema/offer.schema.json: every canonical property is a field
// of the GraphQL Offer type with the matching type and nullability, and a property of the REST response schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSchema, GraphQLEnumType, GraphQLList, GraphQLNonNull, GraphQLObjectType, type GraphQLOutputType } from 'graphql';
import { canonicalOfferSchema, graphqlOfferTypes, publicOfferJsonSchema, API_FIELDS } from './offer-schema.ts';
import { graphqlSchema } from './graphql/schema.ts';

type J = Record<string, any>;

/** What a JSON Schema property must look like in GraphQL, independently of the generator. */
function expectType(p: J, t: GraphQLOutputType, where: string): void {
  if (Array.isArray(p.type)) { assert.equal(String(t), 'JSON', where); return; }
  switch (p.type) {
    case 'string':
      if (p.enum) {
        assert.ok(t instanceof GraphQLEnumType, `${where} is an enum`);
        assert.deepEqual(t.getValues().map((v) => v.name).sort(), [...p.enum].sort(), `${where} enum values`);
      } else assert.equal(String(t), 'String', where);
      return;
    case 'number': assert.equal(String(t), 'Float', where); return;
    case 'integer': assert.equal(String(t), 'Int', where); return;
    case 'boolean': assert.equal(String(t), 'Boolean', where); return;
    case 'array': {
      assert.ok(t instanceof GraphQLList, `${where} is a list`);
      const inner = t.ofType as GraphQLOutputType;
      assert.ok(inner instanceof GraphQLNonNull, `${where} items are non-null`);
      expectType(p.items, inner.ofType, `${where}[]`);
      return;
    }
    case 'object': {
      if (!p.properties) { assert.equal(String(t), 'JSON', where); return; }
      assert.ok(t instanceof GraphQLObjectType, `${where} is an object type`);
      const fields = t.getFields();
      assert.deepEqual(Object.keys(fields).sort(), Object.keys(p.properties).sort(), `${where} fields`);
      for (const [k, sub] of Object.entries(p.properties as J)) {
        const ft = fields[k].type;
        const required = (p.required ?? []).includes(k);
        assert.equal(ft instanceof GraphQLNonNull, required, `${where}.${k} nullability`);
        expectType(sub as J, ft instanceof GraphQLNonNull ? ft.ofType : ft, `${where}.${k}`);
      }
      return;
    }
    default: throw new Error(`${where}: unexpected JSON Schema type ${p.type}`);
  }
}

test('GraphQL Offer type: one field per canonical property, same type and nullability, plus the API fields only', () => {
  const schema = buildSchema(graphqlSchema());
  const offer = schema.getType('Offer') as GraphQLObjectType;
  const fields = offer.getFields();
  const canonical = canonicalOfferSchema.properties as J;
  const required = new Set<string>(canonicalOfferSchema.required);
  assert.deepEqual(Object.keys(fields).sort(), [...Object.keys(canonical), ...Object.keys(API_FIELDS)].sort());
  for (const [name, p] of Object.entries(canonical)) {
    const t = fields[name].type;
    assert.equal(t instanceof GraphQLNonNull, required.has(name), `${name}: required in the JSON Schema ⇔ non-null in GraphQL`);
    expectType(p as J, t instanceof GraphQLNonNull ? t.ofType : t, name);
  }
  assert.deepEqual(Object.keys(graphqlOfferTypes().fields).sort(), Object.keys(canonical).sort());
  // The filter's kind enum is the Offer kind enum.
  assert.equal(String((schema.getType('OfferFilter') as unknown as { getFields(): J }).getFields().kind.type), '[OfferKind!]');
});

test('REST Offer schema: every canonical property with its type, and nothing unknown is serialized', () => {
  const rest = publicOfferJsonSchema();
  const canonical = canonicalOfferSchema.properties as J;
  assert.equal(rest.additionalProperties, false);
  for (const [name, p] of Object.entries(canonical)) {
    assert.ok(rest.properties[name], `${name} in the REST schema`);
    assert.deepEqual(rest.properties[name].type, (p as J).type, `${name} type`);
    if ((p as J).enum) assert.deepEqual(rest.properties[name].enum, (p as J).enum);
  }
  for (const r of canonicalOfferSchema.required) assert.ok(rest.required.includes(r), `${r} required`);
  assert.ok(!JSON.stringify(rest).includes('"pattern"'), 'input-only keywords are not part of the response schema');
});
