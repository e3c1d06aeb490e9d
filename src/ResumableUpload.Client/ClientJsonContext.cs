using System.Text.Json.Serialization;

namespace ResumableUpload.Client;

[JsonSourceGenerationOptions(WriteIndented = true, UseStringEnumConverter = true)]
[JsonSerializable(typeof(List<UploadResumeRecord>))]
internal sealed partial class ClientJsonContext : JsonSerializerContext
{
}
