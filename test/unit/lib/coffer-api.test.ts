import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { CofferApi, type CofferApiProps } from '../../../lib/coffer-api.ts';

function synth(props: Partial<CofferApiProps> = {}) {
  const stack = new Stack(new App(), 'ApiStack', { env: { account: '123456789012', region: 'eu-west-1' } });
  const handler = new lambda.Function(stack, 'Broker', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200 })'),
  });
  new CofferApi(stack, 'Api', { deploymentName: 'coffer', handler, removalPolicy: RemovalPolicy.DESTROY, ...props });
  return Template.fromStack(stack);
}

const mtlsDomain = {
  domainName: 'coffer.example.com',
  certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc',
  truststoreUri: 's3://coffer-truststore/clients/ca.pem',
  truststoreVersion: 'v1',
};

describe('Construct: CofferApi, mTLS domain', () => {
  it('adds a regional custom domain with the S3 truststore, mapped to the API stage', () => {
    const template = synth({ mtlsDomain });
    template.hasResourceProperties('AWS::ApiGateway::DomainName', {
      DomainName: 'coffer.example.com',
      RegionalCertificateArn: mtlsDomain.certificateArn,
      EndpointConfiguration: { Types: ['REGIONAL'] },
      MutualTlsAuthentication: {
        TruststoreUri: 's3://coffer-truststore/clients/ca.pem',
        TruststoreVersion: 'v1',
      },
    });
    template.hasResourceProperties('AWS::ApiGateway::BasePathMapping', {
      DomainName: Match.anyValue(),
      RestApiId: Match.anyValue(),
      Stage: Match.anyValue(),
    });
  });

  it('adds no domain without the option, and refuses a truststore that is not an S3 object', () => {
    synth().resourceCountIs('AWS::ApiGateway::DomainName', 0);
    expect(() => synth({ mtlsDomain: { ...mtlsDomain, truststoreUri: 'https://example.com/ca.pem' } })).toThrow(
      /s3:\/\/ URI/,
    );
  });
});
