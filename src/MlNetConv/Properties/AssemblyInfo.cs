using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetConv;

[assembly: LoadableClass(typeof(ConvNetTransformer), null, typeof(SignatureLoadModel), ConvNetTransformer.UserName, ConvNetTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(ConvNetTransformer), null, typeof(SignatureLoadRowMapper), ConvNetTransformer.UserName, ConvNetTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(FeatureMapTransformer), null, typeof(SignatureLoadModel), FeatureMapTransformer.UserName, FeatureMapTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(FeatureMapTransformer), null, typeof(SignatureLoadRowMapper), FeatureMapTransformer.UserName, FeatureMapTransformer.LoaderSignature)]
