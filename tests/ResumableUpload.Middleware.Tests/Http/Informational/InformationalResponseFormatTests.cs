using System.Text;
using ResumableUpload.Middleware.Http.Informational;

namespace ResumableUpload.Middleware.Tests.Http.Informational;

public sealed class InformationalResponseFormatTests
{
    [Fact]
    public void TryFormat_WritesStatusLineHeadersAndEmptyLine()
    {
        var bytes = InformationalResponseFormat.TryFormat(104, "Upload Resumption Supported", [new("Location", "/files/a?b=c"), new("Upload-Draft-Interop-Version", "7")]);

        Encoding.ASCII.GetString(bytes!).Should().Be("HTTP/1.1 104 Upload Resumption Supported\r\nLocation: /files/a?b=c\r\nUpload-Draft-Interop-Version: 7\r\n\r\n");
    }

    [Theory]
    [InlineData("Location", "/a\r\nSet-Cookie: x=y")]
    [InlineData("Location", "/a\nX: y")]
    [InlineData("Location", "/a\rX: y")]
    [InlineData("Location", "/a\0")]
    [InlineData("Location", "/fichier-é")]
    [InlineData("Bad Name", "v")]
    [InlineData("Bad:Name", "v")]
    [InlineData("", "v")]
    [InlineData("X\r\nY", "v")]
    public void TryFormat_MalformedHeader_IsRefused(string name, string value)
    {
        InformationalResponseFormat.TryFormat(104, "Upload Resumption Supported", [new(name, value)]).Should().BeNull();
    }

    [Fact]
    public void TryFormat_MalformedReason_IsRefused()
    {
        InformationalResponseFormat.TryFormat(104, "Upload\r\nX: y", []).Should().BeNull();
    }

    [Theory]
    [InlineData(99)]
    [InlineData(100)]
    [InlineData(101)]
    [InlineData(200)]
    public void TryFormat_NonInformationalStatus_Throws(int status)
    {
        var act = () => InformationalResponseFormat.TryFormat(status, "X", []);
        act.Should().Throw<ArgumentOutOfRangeException>();
    }

    [Fact]
    public void TryFormat_TabsAndEmptyValuesAreFine()
    {
        Encoding.ASCII.GetString(InformationalResponseFormat.TryFormat(103, "", [new("Link", "</a>;\trel=preload"), new("X-Empty", "")])!)
            .Should().Be("HTTP/1.1 103 \r\nLink: </a>;\trel=preload\r\nX-Empty: \r\n\r\n");
    }
}
