using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetConv.ML;

[assembly: LoadableClass(typeof(ConvNetTransformer), null, typeof(SignatureLoadModel), ConvNetTransformer.UserName, ConvNetTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(ConvNetTransformer), null, typeof(SignatureLoadRowMapper), ConvNetTransformer.UserName, ConvNetTransformer.LoaderSignature)]
