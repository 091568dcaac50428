#ifndef EDFS_COPENSSL_SHIM_H
#define EDFS_COPENSSL_SHIM_H
// libcrypto as Swift sees it. Function-like macros do not import into Swift, so the few the
// project needs are wrapped here as static inline functions.
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/hmac.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/core_names.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/ec.h>
#include <openssl/bn.h>

static inline void edfs_openssl_free(void *ptr) { OPENSSL_free(ptr); }

static inline int edfs_evp_cipher_ctx_set_ivlen(EVP_CIPHER_CTX *ctx, int length) {
    return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, length, NULL);
}
static inline int edfs_evp_cipher_ctx_get_tag(EVP_CIPHER_CTX *ctx, int length, void *tag) {
    return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, length, tag);
}
static inline int edfs_evp_cipher_ctx_set_tag(EVP_CIPHER_CTX *ctx, int length, void *tag) {
    return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, length, tag);
}
// Development certificates (DevelopmentPKI): the STACK_OF push is a macro in OpenSSL 3.
static inline int edfs_general_names_push(GENERAL_NAMES *names, GENERAL_NAME *name) {
    return sk_GENERAL_NAME_push(names, name);
}
#endif
