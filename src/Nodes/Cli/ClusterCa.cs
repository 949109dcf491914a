using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Fabric.Nodes.Cli;

/// <summary>
/// The certificates <c>fabric init</c> makes: a cluster CA (ECDSA P-256, self-signed, may sign end certificates only)
/// and per host a certificate it signed, naming the host's IP and node name, good for both TLS roles (a node accepts
/// connections and makes them, on remoting and HTTPS).
/// </summary>
public sealed class ClusterCa : IDisposable
{
    /// <summary>How long the CA is valid; a node certificate is valid as long as the CA (re-run init to renew both).</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromDays(10 * 365);

    /// <summary>Validity starts this far back, so a host whose clock is a little behind accepts a fresh certificate.</summary>
    private static readonly TimeSpan Backdate = TimeSpan.FromHours(1);

    private ClusterCa(X509Certificate2 certificate) => Certificate = certificate;

    /// <summary>The CA's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    public static ClusterCa Create(DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var id = Convert.ToHexString(RandomNumberGenerator.GetBytes(4)).ToLowerInvariant();
        var request = new CertificateRequest($"CN=Fabric cluster CA {id}, O=Fabric", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        using var created = request.CreateSelfSigned(now - Backdate, now + Lifetime);
        // Re-import so the key is usable for signing on every platform (CreateSelfSigned's key is ephemeral-bound).
        return new ClusterCa(X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null, X509KeyStorageFlags.Exportable));
    }

    /// <summary>The CA of a cluster's folder, as <see cref="Create"/> wrote it: its certificate (PEM) and its key (PKCS#8 PEM).</summary>
    /// <exception cref="CryptographicException">A file is unreadable, the key is not the certificate's, or it is no CA.</exception>
    public static ClusterCa Load(string certificatePemFile, string keyPemFile)
    {
        using var loaded = X509Certificate2.CreateFromPemFile(certificatePemFile, keyPemFile);
        if (loaded.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault() is not { CertificateAuthority: true })
            throw new CryptographicException($"{certificatePemFile} is not a CA certificate");
        // As in Create: re-imported, so the key signs on every platform.
        return new ClusterCa(X509CertificateLoader.LoadPkcs12(loaded.Export(X509ContentType.Pkcs12), null, X509KeyStorageFlags.Exportable));
    }

    /// <summary>A certificate for one node, signed by this CA, with its private key.</summary>
    public X509Certificate2 IssueNode(string name, IPAddress address, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}, O=Fabric", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(address);
        san.AddDnsName(name);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication"), new Oid("1.3.6.1.5.5.7.3.2", "Client Authentication")], critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var notAfter = Certificate.NotAfter < (now + Lifetime).UtcDateTime ? new DateTimeOffset(Certificate.NotAfter) : now + Lifetime;
        using var signed = request.Create(Certificate, now - Backdate, notAfter, RandomNumberGenerator.GetBytes(16));
        return signed.CopyWithPrivateKey(key);
    }

    /// <summary>The CA certificate as PEM (public: every host gets a copy).</summary>
    public string CertificatePem() => Certificate.ExportCertificatePem() + "\n";

    /// <summary>The CA's private key as unencrypted PKCS#8 PEM (keep it off the hosts; mode 0600).</summary>
    public string KeyPem()
    {
        using var key = Certificate.GetECDsaPrivateKey() ?? throw new InvalidOperationException("the CA certificate has no ECDSA private key");
        return key.ExportPkcs8PrivateKeyPem() + "\n";
    }

    /// <summary>A node's certificate and key as PKCS#12 without a password (the file's mode 0600 protects it).</summary>
    public static byte[] Pkcs12(X509Certificate2 node) => node.Export(X509ContentType.Pkcs12);

    public void Dispose() => Certificate.Dispose();
}
